"""Secrets in the config: weak ones are refused at load naming their key path, and none is
printed whole by `vidhook check` (run before every start by the systemd unit) or in the log of
a running server; `vidhook callback-url` is how to get a URL with its token."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from drive import eventually, vibegen_callback
from serve_process import ServeProcess
from sink_servers import HttpServer

from vidhook.receiver.cli import main
from vidhook.receiver.config import parse_settings
from vidhook.receiver.errors import ConfigError

TOKEN = "hook-token-0f3c8a71d2e94b56"
HMAC_SECRET = "hmac-secret-7b2e91c04d5f"
WHSEC = "whsec_" + base64.b64encode(b"sixteen-byte-key").decode()
ADMIN = "admin-token-5d1e9c7b3a20"
READER = "read-token-8a3f6e2c1b94"
SINK_WHSEC = "whsec_" + base64.b64encode(b"a-sink-signing-key-of-24").decode()
SECRETS = (TOKEN, HMAC_SECRET, WHSEC, ADMIN, READER, SINK_WHSEC)


def whsec(size: int) -> str:
    return "whsec_" + base64.b64encode(b"k" * size).decode()


@pytest.mark.parametrize(
    ("toml", "says"),
    [
        (
            '[sources.vibegen]\nprovider = "vibegen"\ntokens = ["x"]\n',
            "sources.vibegen.tokens[0]: too short (1 characters); a token needs at least 16",
        ),
        (
            f'[sources.vibegen]\nprovider = "vibegen"\ntokens = ["{TOKEN}", "{TOKEN[:15]}"]\n',
            "sources.vibegen.tokens[1]: too short (15 characters)",
        ),
        (
            '[sources.signed]\nprovider = "ark"\nhmac = { secret = "fifteen-bytes!!" }\n',
            "sources.signed.hmac.secret: too short (15 bytes); an HMAC secret needs at least 16",
        ),
        (
            f'[sources.signed]\nprovider = "ark"\nhmac = {{ secret = ["{HMAC_SECRET}", "é" ]}}\n',
            "sources.signed.hmac.secret[1]: too short (2 bytes)",
        ),
        (
            f'[sources.p]\nprovider = "vibegen"\nstandard_webhooks = {{ secret = "{whsec(1)}" }}\n',
            "sources.p.standard_webhooks.secret: key too short (1 bytes after base64 decoding)",
        ),
        (
            f'[sources.p]\nprovider = "vibegen"\n'
            f'standard_webhooks = {{ secret = ["{WHSEC}", "{whsec(15)}"] }}\n',
            "sources.p.standard_webhooks.secret[1]: key too short (15 bytes",
        ),
        (
            '[[api_tokens]]\nname = "ops"\ntoken = "short"\n',
            "api_tokens[0].token (ops): too short (5 characters)",
        ),
    ],
)
def test_a_weak_secret_is_refused_naming_its_key(toml: str, says: str) -> None:
    with pytest.raises(ConfigError) as refused:
        parse_settings(toml, origin="vidhook.toml", env={})
    assert refused.value.message.startswith(f"vidhook.toml: {says}"), refused.value.message


def test_secrets_of_the_minimum_length_are_accepted() -> None:
    toml = (
        f'[sources.a]\nprovider = "vibegen"\ntokens = ["{"t" * 16}"]\n'
        f'hmac = {{ secret = "{"s" * 16}" }}\n'
        f'standard_webhooks = {{ secret = "{whsec(16)}" }}\n'
        f'[[api_tokens]]\nname = "ops"\ntoken = "{"a" * 16}"\n'
    )
    settings = parse_settings(toml, env={})
    assert settings.sources["a"].tokens == ["t" * 16]


def check(tmp_path: Path, toml: str, *args: str) -> tuple[int, str, str]:
    """`vidhook check` in a child process, as the systemd unit runs it."""
    (tmp_path / "vidhook.toml").write_text(toml)
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDHOOK_")}
    done = subprocess.run(
        [sys.executable, "-m", "vidhook", "check", "--config", "vidhook.toml", *args],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    return done.returncode, done.stdout, done.stderr


def test_check_refuses_a_weak_http_sink_secret(tmp_path: Path) -> None:
    toml = f'[sinks.app]\ntype = "http"\nurl = "https://app.example.com"\nsecret = "{whsec(8)}"\n'
    code, out, err = check(tmp_path, toml)
    assert code == 3, out
    assert err.startswith("vidhook: vidhook.toml: sinks.app.secret: key too short (8 bytes"), err


CONFIG = f"""
[server]
public_url = "https://hooks.example.com"

[[api_tokens]]
name = "ops"
token = "{ADMIN}"
scopes = ["read", "admin"]

[sources.vibegen]
provider = "vibegen"
tokens = ["{TOKEN}"]

[sources.signed]
provider = "ark"
hmac = {{ secret = "{HMAC_SECRET}" }}
standard_webhooks = {{ secret = "{WHSEC}" }}
"""


def test_check_masks_tokens_unless_asked_to_show_them(tmp_path: Path) -> None:
    code, out, err = check(tmp_path, CONFIG)
    assert code == 0, err
    assert "  vibegen [vibegen] https://hooks.example.com/hooks/vibegen/hook…\n" in out
    assert "  signed [ark] https://hooks.example.com/hooks/signed\n" in out
    for secret in SECRETS:
        assert secret not in out + err

    code, out, _ = check(tmp_path, CONFIG, "--show-secrets")
    assert code == 0
    assert f"  vibegen [vibegen] https://hooks.example.com/hooks/vibegen/{TOKEN}\n" in out


def test_callback_url_still_prints_the_whole_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "vidhook.toml").write_text(CONFIG)
    monkeypatch.chdir(tmp_path)
    assert main(["callback-url", "--config", "vidhook.toml", "vibegen"]) == 0
    assert capsys.readouterr().out == f"https://hooks.example.com/hooks/vibegen/{TOKEN}\n"


async def test_a_running_server_never_logs_a_secret(tmp_path: Path) -> None:
    async with HttpServer() as sink:
        config = CONFIG.replace('public_url = "https://hooks.example.com"', "")
        config += f"""
[store]
url = "sqlite:///{tmp_path}/vidhook.db"

[log]
level = "debug"
format = "json"

[[api_tokens]]
name = "reader"
token = "{READER}"

[sinks.app]
type = "http"
url = "{sink.url}"
secret = "{SINK_WHSEC}"

[[rules]]
name = "all"
sinks = ["app"]
"""
        (tmp_path / "vidhook.toml").write_text(config)
        server = ServeProcess(tmp_path / "vidhook.toml", tmp_path / "serve.log")
        await server.start()
        try:
            async with httpx.AsyncClient(base_url=server.url) as client:
                body = vibegen_callback("task-secret-1")
                assert (await client.post(f"/hooks/vibegen/{TOKEN}", content=body)).is_success
                wrong = await client.post(f"/hooks/vibegen/{TOKEN[:-1]}x", content=body)
                assert wrong.status_code == 401
                query = await client.post(f"/hooks/vibegen?token={TOKEN}", content=body)
                assert query.is_success
                auth = {"authorization": f"Bearer {READER}"}
                listed = await client.get("/admin/sources", headers=auth)
                assert listed.status_code == 200
                assert TOKEN not in listed.text
                await eventually(lambda: len(sink.received) >= 1, within=20)
        finally:
            server.stop()
    log = (tmp_path / "serve.log").read_text()
    assert '"event": "event stored"' in log or '"event":"event stored"' in log
    for secret in SECRETS:
        assert secret not in log
