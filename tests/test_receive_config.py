"""The config file and the commands that read it, run in a temp directory.

`vidhook check` names the key path of every mistake; `vidhook serve` with no config prints the
callback URLs, whose tokens survive a restart; `vidhook callback-url` prints the same URL.
"""

from __future__ import annotations

import os
import re
import select
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import fixture_bytes
from vidhook.receiver.cli import main

pytestmark = pytest.mark.slow

# The `vidhook` console script's entry point, run by this interpreter.
VIDHOOK = [sys.executable, "-m", "vidhook"]
ROOT = Path(__file__).resolve().parents[1]
URL_LINE = re.compile(r"^\s+(\S+)\s+(http://\S+/hooks/(\S+)/(\S+))\s+\((callback|polled)\)$")


def environment(**extra: str) -> dict[str, str]:
    """The test's environment without VIDHOOK_* settings, running this checkout's code."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDHOOK_")}
    return {**env, "PYTHONPATH": str(ROOT), **extra}


def vidhook(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*VIDHOOK, *args],
        cwd=cwd,
        env=env or environment(),
        capture_output=True,
        text=True,
        timeout=60,
    )


Check = Callable[..., tuple[int, str, str]]


@pytest.fixture
def check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Check:
    """Run `vidhook check --config vidhook.toml` in this process; return code, out, err."""
    monkeypatch.chdir(tmp_path)
    for name in [name for name in os.environ if name.startswith("VIDHOOK_")]:
        monkeypatch.delenv(name)

    def run(toml: str, **env: str) -> tuple[int, str, str]:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        (tmp_path / "vidhook.toml").write_text(toml)
        code = main(["check", "--config", "vidhook.toml"])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def refused(check: Check, toml: str, **env: str) -> str:
    code, out, err = check(toml, **env)
    assert code == 3, out + err
    assert out == ""
    message = err.strip()
    assert message.startswith("vidhook: vidhook.toml: "), message
    return message


# vidhook check


def test_check_accepts_a_good_config_and_lists_what_would_run(tmp_path: Path) -> None:
    (tmp_path / "vidhook.toml").write_text(
        """
        [server]
        public_url = "https://hooks.example.com"

        [sources.vibegen]
        provider = "vibegen"
        tokens = ["${VIBEGEN_HOOK_TOKEN}"]

        [sinks.out]
        type = "file"
        path = "events.jsonl"

        [[rules]]
        name = "all"
        sinks = ["out"]
        """
    )
    env = environment(VIBEGEN_HOOK_TOKEN="tok-from-the-environment")
    done = vidhook("check", "--config", "vidhook.toml", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert "vidhook.toml: OK" in done.stdout
    assert "  vibegen [vibegen] https://hooks.example.com/hooks/vibegen/tok-…\n" in done.stdout
    assert "tok-from-the-environment" not in done.stdout + done.stderr


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ("[server]\nprot = 8080\n", "server.prot"),
        ('[store]\nurll = "sqlite:///x.db"\n', "store.urll"),
        ('[sources.vibegen]\nprovider = "vibegen"\ntokenz = ["t"]\n', "sources.vibegen.tokenz"),
        (
            '[sources.signed]\nprovider = "ark"\nhmac = { secret = "s", algoritm = "sha256" }\n',
            "sources.signed.hmac.algoritm",
        ),
        (
            '[sources.p]\nprovider = "generic"\n'
            'mapping = { task_id = "a", status = "b", x = "c" }\n',
            "sources.p.mapping.x",
        ),
        ('[[rules]]\nname = "r"\nsinks = []\nwhenn = {}\n', "rules[0].whenn"),
        ("colour = 'blue'\n", "colour"),
    ],
)
def test_check_names_the_path_of_an_unknown_key(check: Check, toml: str, key: str) -> None:
    assert f"unknown key `{key}`" in refused(check, toml)


def test_the_check_command_exits_3_naming_the_key(tmp_path: Path) -> None:
    (tmp_path / "vidhook.toml").write_text('[sources.a]\nprovider = "ark"\ntokenz = ["t"]\n')
    done = vidhook("check", "--config", "vidhook.toml", cwd=tmp_path)
    assert done.returncode == 3
    assert done.stderr.startswith(
        "vidhook: vidhook.toml: unknown key `sources.a.tokenz`; did you mean 'tokens'?"
        " (keys here: tokens, hmac, "
    )
    assert done.stderr.endswith(
        "; see `vidhook config example` for every option (at line 3, column 1)\n"
    )


@pytest.mark.parametrize(
    ("toml", "says"),
    [
        (
            '[sources.a]\nprovider = "nope"\n',
            "sources.a.provider: unknown provider 'nope'; use one of vibegen, evolink, ark,"
            " videoapi, seedanceapi, aioagi, generic",
        ),
        ('[server]\nport = "eighty"\n', "server.port: Expected `int`, got `str`"),
        ("[sources.a\n", "not valid TOML"),
    ],
)
def test_check_names_the_path_of_a_wrong_value(check: Check, toml: str, says: str) -> None:
    assert says in refused(check, toml)


def test_check_names_a_missing_environment_variable_and_where_it_is_used(check: Check) -> None:
    message = refused(
        check, '[sources.a]\nprovider = "vibegen"\ntokens = ["ok", "${VIDHOOK_TEST_UNSET}"]\n'
    )
    assert "sources.a.tokens[1]" in message
    assert "environment variable VIDHOOK_TEST_UNSET is not set" in message


@pytest.mark.parametrize(
    ("field", "cidr"), [("allow_ips", "10.0.0.0/33"), ("trusted_proxies", "not-a-network")]
)
def test_check_names_a_bad_cidr(check: Check, field: str, cidr: str) -> None:
    message = refused(check, f'[sources.a]\nprovider = "vibegen"\n{field} = ["{cidr}"]\n')
    assert f"sources.a.{field}[0]: not a CIDR network" in message
    assert cidr in message


def test_check_without_a_config_checks_the_embedded_default(
    check: Check, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["check"]) == 0
    out = capsys.readouterr().out
    assert "no config file found" in out and "the embedded default: OK" in out
    assert list(tmp_path.iterdir()) == []  # it made no store


# vidhook serve on the embedded default


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def read_banner(process: subprocess.Popen[bytes]) -> list[str]:
    """The lines `serve` prints up to the admin token line (bounded wait)."""
    assert process.stdout is not None
    fd = process.stdout.fileno()
    received = b""
    deadline = time.monotonic() + 30
    while b"admin API token" not in received and time.monotonic() < deadline:
        readable, _, _ = select.select([fd], [], [], 1)
        if not readable:
            assert process.poll() is None, "vidhook serve exited early"
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        received += chunk
    lines = received.decode().splitlines()
    assert any(line.lstrip().startswith("admin API token") for line in lines), lines
    return lines


def callback_urls(banner: list[str]) -> dict[str, str]:
    return {m[1]: m[2] for line in banner if (m := URL_LINE.match(line))}


class DefaultServer:
    """`vidhook serve` on the embedded default, run in a directory of its own."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, port: int, host: str = "127.0.0.1") -> dict[str, str]:
        """Start it; return the callback URLs its banner printed, once it answers."""
        process = subprocess.Popen(
            [*VIDHOOK, "serve", "--port", str(port), "--host", host],
            cwd=self.cwd,
            env=environment(),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self.processes.append(process)
        urls = callback_urls(read_banner(process))
        for _ in range(300):
            try:
                if httpx.get(urls["vibegen"].split("/hooks/")[0] + "/healthz").status_code == 200:
                    return urls
            except httpx.TransportError:
                time.sleep(0.05)
        raise AssertionError("vidhook serve did not answer /healthz")

    def stop(self) -> None:
        """Stop the newest one as an operator would (SIGTERM), killing it if it hangs."""
        process = self.processes[-1]
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def kill_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[DefaultServer]:
    running = DefaultServer(tmp_path)
    yield running
    running.kill_all()


def test_serve_without_config_prints_callback_urls_that_work(
    server: DefaultServer, tmp_path: Path
) -> None:
    port = free_port()
    urls = server.start(port)
    assert set(urls) == {"vibegen", "evolink", "ark", "videoapi", "seedanceapi", "aioagi"}
    for name, url in urls.items():
        assert url.startswith(f"http://127.0.0.1:{port}/hooks/{name}/")
        assert len(url.rsplit("/", 1)[1]) >= 24
    answer = httpx.post(urls["vibegen"], content=fixture_bytes("vibegen", "callback_completed"))
    assert answer.status_code == 200, answer.text
    wrong = httpx.post(urls["vibegen"] + "x", content=b"{}")
    assert wrong.status_code == 401
    assert (tmp_path / "vidhook.db").exists()


def test_serve_on_an_ipv6_address_prints_urls_with_brackets(server: DefaultServer) -> None:
    port = free_port()
    urls = server.start(port, host="::1")
    assert urls["ark"].startswith(f"http://[::1]:{port}/hooks/ark/")
    answer = httpx.post(urls["ark"], content=fixture_bytes("ark", "callback_queued"))
    assert answer.status_code == 200, answer.text


def test_default_tokens_survive_a_restart(server: DefaultServer) -> None:
    first = server.start(free_port())
    server.stop()
    second = server.start(free_port())
    token = {name: url.rsplit("/", 1)[1] for name, url in first.items()}
    assert {name: url.rsplit("/", 1)[1] for name, url in second.items()} == token


def test_callback_url_prints_the_url_serve_printed(server: DefaultServer, tmp_path: Path) -> None:
    urls = server.start(free_port())
    server.stop()
    done = vidhook("callback-url", "evolink", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    printed = done.stdout.strip()
    assert printed.startswith("http://127.0.0.1:8080/hooks/evolink/")
    assert printed.rsplit("/", 1)[1] == urls["evolink"].rsplit("/", 1)[1]


def test_callback_url_of_a_configured_source(tmp_path: Path) -> None:
    (tmp_path / "vidhook.toml").write_text(
        '[server]\npublic_url = "https://hooks.example.com/"\n'
        '[sources.ark]\nprovider = "ark"\n'
        'tokens = ["tok-new-1-0123456789", "tok-old-2-0123456789"]\n'
        '[sources.open]\nprovider = "vibegen"\n'
    )
    done = vidhook("callback-url", "--config", "vidhook.toml", "ark", cwd=tmp_path)
    assert done.stdout.strip() == "https://hooks.example.com/hooks/ark/tok-new-1-0123456789"
    done = vidhook("callback-url", "--config", "vidhook.toml", "open", cwd=tmp_path)
    assert done.stdout.strip() == "https://hooks.example.com/hooks/open"
    done = vidhook("callback-url", "--config", "vidhook.toml", "nope", cwd=tmp_path)
    assert done.returncode == 4
    assert "no source named 'nope'; did you mean 'open'? (known: ark, open)" in done.stderr


@pytest.mark.parametrize(
    ("limits", "says"),
    [
        ("rate_limit = 0", "sources.a.rate_limit: must be above 0"),
        ("rate_limit = nan", "sources.a.rate_limit: must be above 0"),
        ("rate_limit = 5\nrate_burst = 0", "sources.a.rate_burst: must be 1 or more"),
        ("rate_burst = 10", "sources.a.rate_burst: goes with rate_limit"),
    ],
)
def test_check_refuses_a_rate_limit_that_would_refuse_or_allow_everything(
    check: Check, limits: str, says: str
) -> None:
    assert says in refused(check, f'[sources.a]\nprovider = "vibegen"\n{limits}\n')
