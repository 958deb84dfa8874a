"""`vidhook simulate`: each calling-back provider's realistic callback reaches a running vidhook,
with the URL token, HMAC or Standard Webhooks signature its source asks for."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.conftest import start_vidhook
from vidhook.receiver.cli import main
from vidhook.receiver.config import load_settings, parse_settings
from vidhook.receiver.providers.ark import ArkSource
from vidhook.receiver.providers.vibegen import VibegenSource
from vidhook.receiver.simulate import callback_body
from vidhook.receiver.store.records import EventFilter

CONFIG = """
[store]
url = "sqlite:///{db}"

[sources.vibegen]
provider = "vibegen"
tokens = ["hook-token-0123456789"]

[sources.evolink]
provider = "evolink"
tokens = ["hook-token-0123456789"]

[sources.ark]
provider = "ark"
tokens = ["hook-token-0123456789"]

[sources.signed]
provider = "vibegen"

[sources.signed.hmac]
header = "X-Signature"
secret = "s3cret-value-0123456789"
prefix = "sha256="
template = "{timestamp}.{body}"
timestamp_header = "X-Timestamp"

[sources.partner]
provider = "generic"
standard_webhooks = { secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" }
statuses = { done = "completed", error = "failed", running = "processing" }

[sources.partner.mapping]
task_id = "data.id"
status = "data.state"
video_urls = "data.outputs"
error = "data.error"

[sources.videoapi]
provider = "videoapi"
"""


@pytest.fixture
async def running(tmp_path):
    path = tmp_path / "vidhook.toml"
    path.write_text(CONFIG.replace("{db}", str(tmp_path / "sim.db")))
    vidhook, stop = await start_vidhook(load_settings(path), run_workers=False)
    yield vidhook, path
    await stop()


async def simulate(path, capsys, *argv):
    code = await asyncio.to_thread(main, ["simulate", *argv, "--config", str(path)])
    out, err = capsys.readouterr()
    return code, out, err


CASES = [
    (["vibegen", "--source", "vibegen"], "vibegen", "task.completed", ["token"]),
    (["vibegen", "--status", "failed", "--source", "vibegen"], "vibegen", "task.failed", ["token"]),
    (["evolink", "--status", "completed"], "evolink", "task.completed", ["token"]),
    (["evolink", "--status", "failed"], "evolink", "task.failed", ["token"]),
    (["ark", "--status", "completed"], "ark", "task.completed", ["token"]),
    (["ark", "--status", "failed"], "ark", "task.failed", ["token"]),
    (["vibegen", "--source", "signed"], "signed", "task.completed", ["hmac"]),
    (["generic", "--status", "completed"], "partner", "task.completed", ["standard-webhooks"]),
    (["generic", "--status", "failed"], "partner", "task.failed", ["standard-webhooks"]),
]


async def test_every_calling_back_provider_is_accepted(running, capsys):
    vidhook, path = running
    for argv, source, event_type, verified_by in CASES:
        code, out, err = await simulate(path, capsys, *argv, "--url", vidhook.url)
        assert code == 0, (argv, out, err)
        assert "-> 200" in out and "hook-token" not in out  # the URL token is not printed
        event_id = json.loads(out.splitlines()[1])["id"]
        stored = await vidhook.services.store.get_event(event_id)
        assert (stored.event.source, stored.event.type) == (source, event_type), argv
        assert stored.event.verified_by == verified_by
        if event_type == "task.completed":
            assert stored.event.video_urls
        else:
            assert stored.event.error is not None
    events = await vidhook.services.store.list_events(EventFilter(), 100)
    assert len({s.event.task_id for s in events}) == len(CASES)  # each a new task


async def test_simulate_refusals(running, capsys):
    _, path = running
    cases = [
        (["videoapi"], 2, "videoapi never calls back (vidhook polls its tasks)"),
        (["vibegen"], 2, "several vibegen sources (vibegen, signed); pick one with --source"),
        (["aioagi"], 4, "no source of provider 'aioagi' is configured"),
        (["vibgen"], 4, "no provider named 'vibgen'; did you mean 'vibegen'?"),
        (["ark", "--source", "vibegen"], 4, "no ark source named 'vibegen' (known: ark)"),
        (
            ["ark", "--url", "http://127.0.0.1:9"],
            5,
            "could not reach vidhook at http://127.0.0.1:9",
        ),
    ]
    for argv, exit_code, message in cases:
        code, _, err = await simulate(path, capsys, *argv)
        assert code == exit_code and message in err, (argv, err)


async def test_a_wrong_token_is_reported_with_vidhooks_answer(running, capsys, tmp_path):
    vidhook, path = running
    wrong = tmp_path / "wrong.toml"
    wrong.write_text(path.read_text().replace("hook-token-0123456789", "not-the-token-00000"))
    code, out, _ = await simulate(wrong, capsys, "ark", "--url", vidhook.url)
    assert code == 1 and "-> 401" in out and "URL token does not match" in out


def test_payloads_follow_the_fixture_shapes():
    vibegen = json.loads(callback_body("completed", VibegenSource(), 1_700_000_000))
    assert vibegen["event"] == "task.completed" and vibegen["video_url"].startswith("https://")
    assert vibegen["completed_at"] == "2023-11-14T22:13:20Z"
    ark = json.loads(callback_body("failed", ArkSource(), 1_700_000_000))
    assert ark["status"] == "failed" and ark["error"]["code"]
    settings = parse_settings(CONFIG.replace("{db}", "unused.db"), env={})
    partner = json.loads(callback_body("failed", settings.sources["partner"], 1_700_000_000))
    assert partner["data"]["state"] == "error" and partner["data"]["error"]["message"]
