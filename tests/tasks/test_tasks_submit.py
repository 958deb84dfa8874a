"""Submitting through vidhook and watching tasks, against the fake provider over loopback."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.provider_harness import (
    ADMIN,
    API_KEY,
    HOOK,
    READER,
    SUBMITTER,
    bearer,
    eventually,
    trusting,
)
from tests.raw_server import RawServer, answering
from vidhook.receiver.providers import PROVIDERS

PROVIDER_NAMES = ["vibegen", "evolink", "ark", "videoapi", "seedanceapi", "aioagi"]

OUT = """
[sinks.out]
type = "file"
path = "{dir}/events.jsonl"

[[rules]]
name = "all"
sinks = ["out"]
"""


def source_toml(provider: str, fake_url: str, name: str | None = None, **extra: object) -> str:
    """One source of `provider` whose API is the fake's, with quick polling."""
    options = {
        "provider": provider,
        "tokens": [HOOK],
        "api_key": API_KEY,
        "base_url": f"{fake_url}/{provider}",
        "poll_interval": 0.2,
        "poll_timeout": 30,
        **extra,
    }
    lines = [f"[sources.{name or provider}]"]
    lines += [f"{key} = {json.dumps(value)}" for key, value in options.items()]
    return "\n".join(lines) + "\n"


SUBMIT = {
    "body": {
        "model": "seedance-1.0",
        "prompt": "a lighthouse in a storm",
        "resolution": "480p",
        "duration": 5,
        "generate_audio": False,
    },
    "end_user_id": "user-42",
    "labels": {"team": "growth"},
}


@pytest.mark.parametrize("provider", PROVIDER_NAMES)
async def test_submitted_task_ends_in_a_routed_event_with_its_labels(
    provider, fake, start_vidhook, tls_dir, tmp_path
):
    fake_provider, fake_url = fake
    calls_back = PROVIDERS[provider].calls_back
    tls = tls_dir if provider == "evolink" else None  # evolink calls back over HTTPS only
    if tls:
        fake_provider.callback_verify = trusting(tls)
    vidhook = await start_vidhook(source_toml(provider, fake_url) + OUT, tls=tls)

    answer = await vidhook.post(f"/v1/submit/{provider}", SUBMITTER, SUBMIT)

    assert answer.status_code == 201, answer.text
    reply = answer.json()
    task_id = reply["task"]["task_id"]
    assert reply["task"]["labels"] == {"team": "growth", "end_user_id": "user-42"}
    assert reply["task"]["poll"] is True  # a callback task too: its safety net is armed
    assert (reply["task"]["grace_until"] is not None) is calls_back
    assert reply["provider"]["status_code"] == 200
    assert task_id in json.dumps(reply["provider"]["body"])
    (create,) = fake_provider.seen("create", provider)
    assert create.authorization == f"Bearer {API_KEY}"
    assert create.body["prompt"] == SUBMIT["body"]["prompt"]
    if calls_back:
        assert create.body["callback_url"] == f"{vidhook.url}/hooks/{provider}/{HOOK}"
    else:
        assert "callback_url" not in create.body

    async def completed():
        events = await vidhook.events(provider, task_id)
        return [s.event for s in events if s.event.status == "completed"]

    (event,) = await eventually(completed)
    assert event.labels == {"team": "growth", "end_user_id": "user-42"}
    # Usage facts: what the provider reports wins (Ark's fake says 720p), the request fills in.
    assert event.resolution == ("720p" if provider == "ark" else "480p")
    assert (event.duration_s, event.audio) == (5.0, False)
    assert event.video_urls == [f"https://cdn.example.com/{provider}/{task_id}.mp4"]
    assert event.verified_by == (["token"] if calls_back else ["poll"])
    out = tmp_path / "events.jsonl"

    async def delivered():
        lines = out.read_text().splitlines() if out.exists() else []
        return [json.loads(line) for line in lines if json.loads(line)["id"] == event.id]

    (sent,) = await eventually(delivered)
    assert sent["labels"] == {"team": "growth", "end_user_id": "user-42"}
    task = await vidhook.services.store.get_task(provider, task_id)
    assert task.status == "completed" and task.poll is False


async def test_the_readme_submit_and_watch_bodies_are_accepted(fake, start_vidhook):
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    envelope = json.loads(re.search(r"-d '(\{.*?\})'\n", readme, re.S).group(1))
    watch_text = re.search(r"`POST /admin/tasks` \(scope `admin`\) takes `(.*?)`", readme, re.S)
    watch = json.loads(watch_text.group(1).replace("\n", " "))
    fake_provider, fake_url = fake
    toml = source_toml("vibegen", fake_url) + source_toml("videoapi", fake_url)
    vidhook = await start_vidhook(toml)

    answer = await vidhook.post("/v1/submit/vibegen", SUBMITTER, envelope)

    assert answer.status_code == 201, answer.text
    assert answer.json()["task"]["labels"] == {**envelope["labels"], "end_user_id": "u-42"}
    assert fake_provider.seen("create")[0].body["prompt"] == envelope["body"]["prompt"]
    watched = await vidhook.post("/admin/tasks", ADMIN, watch)
    assert watched.status_code == 201, watched.text
    assert watched.json()["task_id"] == "vid-123" and watched.json()["poll"] is True


async def test_polled_task_keeps_the_interval_the_provider_asks_for(fake, start_vidhook):
    fake_provider, fake_url = fake
    fake_provider.poll_interval = 0.3
    vidhook = await start_vidhook(source_toml("videoapi", fake_url, poll_interval=5))

    answer = await vidhook.post("/v1/submit/videoapi", SUBMITTER, SUBMIT)

    assert answer.status_code == 201, answer.text
    assert answer.json()["task"]["poll_interval"] == 0.3


async def test_evolink_is_refused_when_public_url_is_not_https(fake, start_vidhook):
    fake_provider, fake_url = fake
    vidhook = await start_vidhook(source_toml("evolink", fake_url))

    answer = await vidhook.post("/v1/submit/evolink", SUBMITTER, SUBMIT)

    assert answer.status_code == 409, answer.text
    error = answer.json()["error"]
    assert error["code"] == "callback_needs_https"
    assert "HTTPS" in error["message"] and "server.public_url" in error["message"]
    assert fake_provider.seen("create") == []


@pytest.mark.parametrize(
    ("status", "code", "message"),
    [
        (401, "provider_unauthorized", "Invalid API key"),
        (402, "insufficient_credits", "Insufficient credits"),
        (429, "provider_rate_limited", "Too many requests"),
        (500, "provider_unavailable", "internal error"),
        (503, "provider_unavailable", "maintenance"),
    ],
)
@pytest.mark.parametrize("provider", ["vibegen", "seedanceapi"])
async def test_provider_errors_keep_the_provider_status_and_message(
    provider, status, code, message, fake, start_vidhook
):
    fake_provider, fake_url = fake
    vidhook = await start_vidhook(source_toml(provider, fake_url))
    fake_provider.fail(status, on="create", message=message, retry_after=7)

    answer = await vidhook.post(f"/v1/submit/{provider}", SUBMITTER, SUBMIT)

    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert error["code"] == code
    assert error["message"] == f"{provider} answered {status}: {message}"
    if status == 429:
        assert answer.headers["retry-after"] == "7"
    assert await vidhook.services.store.list_tasks(None, None, 10, now=0) == []


async def test_a_create_request_cut_off_on_a_reused_connection_is_sent_once(start_vidhook):
    # The provider refuses the first create, keeps the connection, then reads the second create
    # and closes without answering. The task may exist now (and be paid for): the caller hears
    # that the provider could not be reached, and the request is not sent a second time.
    refused = b'{"error": {"message": "prompt too long"}}'
    refusal = b"HTTP/1.1 422 Unprocessable\r\nContent-Length: %d\r\n\r\n%s" % (
        len(refused),
        refused,
    )
    async with RawServer(answering(refusal, b"")) as provider:
        vidhook = await start_vidhook(source_toml("vibegen", provider.url))
        first = await vidhook.post("/v1/submit/vibegen", SUBMITTER, SUBMIT)
        second = await vidhook.post("/v1/submit/vibegen", SUBMITTER, SUBMIT)
    assert first.status_code == 422, first.text
    assert second.status_code == 502, second.text
    assert second.json()["error"]["code"] == "provider_unreachable"
    assert [request.split(b" ")[0] for request in provider.requests] == [b"POST", b"POST"]
    assert provider.connections == 1


async def test_a_wrong_api_key_is_the_provider_401(fake, start_vidhook):
    _, fake_url = fake
    vidhook = await start_vidhook(source_toml("ark", fake_url, api_key="not-the-key"))

    answer = await vidhook.post("/v1/submit/ark", SUBMITTER, SUBMIT)

    assert answer.status_code == 401
    assert answer.json()["error"] == {
        "code": "provider_unauthorized",
        "message": "ark answered 401: Invalid API key",
    }


async def test_unreachable_provider_is_a_502_naming_it(start_vidhook):
    vidhook = await start_vidhook(source_toml("vibegen", "http://127.0.0.1:9"))

    answer = await vidhook.post("/v1/submit/vibegen", SUBMITTER, SUBMIT)

    assert answer.status_code == 502
    assert answer.json()["error"]["code"] == "provider_unreachable"
    assert "vibegen" in answer.json()["error"]["message"]


GENERIC = """
[sources.partner]
provider = "generic"
mapping = { task_id = "id", status = "state" }
"""


@pytest.mark.parametrize(
    ("path", "token", "body", "status", "code"),
    [
        ("/v1/submit/vibegen", None, SUBMIT, 401, "unauthorized"),
        ("/v1/submit/vibegen", READER, SUBMIT, 403, "forbidden"),
        ("/v1/submit/vibegen", ADMIN, SUBMIT, 403, "forbidden"),
        ("/v1/submit/nowhere", SUBMITTER, SUBMIT, 404, "unknown_source"),
        ("/v1/submit/partner", SUBMITTER, SUBMIT, 409, "no_provider_api"),
        ("/v1/submit/vibegen", SUBMITTER, {"prompt": "no envelope"}, 400, "bad_request"),
        ("/v1/submit/vibegen", SUBMITTER, {**SUBMIT, "labels": {"n": 1}}, 400, "bad_request"),
    ],
)
async def test_submit_refusals_say_why(path, token, body, status, code, fake, start_vidhook):
    fake_provider, fake_url = fake
    vidhook = await start_vidhook(source_toml("vibegen", fake_url) + GENERIC)
    headers = bearer(token) if token else {}

    answer = await vidhook.client.post(path, json=body, headers=headers)

    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["code"] == code
    assert answer.json()["error"]["message"]
    assert fake_provider.seen("create") == []


async def test_a_task_registered_to_watch_is_polled_to_its_end(fake, start_vidhook):
    fake_provider, fake_url = fake
    vidhook = await start_vidhook(source_toml("vibegen", fake_url))
    task_id = fake_provider.add_task("vibegen")  # created elsewhere, with no callback_url
    body = {"source": "vibegen", "task_id": task_id, "labels": {"team": "ads"}}

    answer = await vidhook.post("/admin/tasks", ADMIN, {**body, "end_user_id": "u-7"})

    assert answer.status_code == 201, answer.text
    assert answer.json()["poll"] is True
    assert answer.json()["status"] == "registered"

    async def completed():
        events = await vidhook.events("vibegen", task_id)
        return [s.event for s in events if s.event.status == "completed"]

    (event,) = await eventually(completed)
    assert event.labels == {"team": "ads", "end_user_id": "u-7"}
    assert event.verified_by == ["poll"]
    listed = await vidhook.client.get("/admin/tasks?source=vibegen", headers=bearer(READER))
    assert [t["task_id"] for t in listed.json()["items"]] == [task_id]
    shown = await vidhook.client.get(f"/admin/tasks/vibegen/{task_id}", headers=bearer(READER))
    assert shown.json()["task"]["status"] == "completed"
    assert shown.json()["task"]["poll"] is False
    assert {e["event"]["status"] for e in shown.json()["events"]} <= {"processing", "completed"}


@pytest.mark.parametrize(
    ("token", "body", "status", "code"),
    [
        (READER, {"source": "vibegen", "task_id": "t-1"}, 403, "forbidden"),
        (ADMIN, {"source": "nowhere", "task_id": "t-1"}, 404, "unknown_source"),
        (ADMIN, {"source": "partner", "task_id": "t-1"}, 409, "no_provider_api"),
        (ADMIN, {"source": "vibegen", "task_id": " "}, 400, "invalid_task_id"),
        (ADMIN, {"source": "vibegen"}, 400, "bad_request"),
    ],
)
async def test_watch_refusals_say_why(token, body, status, code, fake, start_vidhook):
    _, fake_url = fake
    vidhook = await start_vidhook(source_toml("vibegen", fake_url) + GENERIC)

    answer = await vidhook.post("/admin/tasks", token, body)

    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["code"] == code


async def test_unknown_task_is_a_404(fake, start_vidhook):
    _, fake_url = fake
    vidhook = await start_vidhook(source_toml("vibegen", fake_url))

    answer = await vidhook.client.get("/admin/tasks/vibegen/nope", headers=bearer(READER))

    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "unknown_task"
