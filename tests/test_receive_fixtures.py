"""Every provider's callback fixture, posted over HTTP, read back as the right Event.

Each fixture goes through the real app on a loopback socket; the event is then read from the
store and from a file sink, and the raw request is checked for redacted secrets.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest

from tests.conftest import fixture_bytes
from vidhook.receiver.event import Credits, ErrorInfo, Event
from vidhook.receiver.store.records import EventFilter

TOKENS = {
    "vibegen": "tok-vibegen-5a1f0c",
    "evolink": "tok-evolink-77d2e9",
    "ark": "tok-ark-3b9c41d2e7",
    "partner": "tok-partner-c0ffee",
}
LABELS = {"team": "video", "env": "test"}

CONFIG = f"""
[sources.vibegen]
provider = "vibegen"
tokens = ["{TOKENS["vibegen"]}"]
labels = {{ team = "video", env = "test" }}

[sources.evolink]
provider = "evolink"
tokens = ["{TOKENS["evolink"]}"]
labels = {{ team = "video", env = "test" }}

[sources.ark]
provider = "ark"
tokens = ["{TOKENS["ark"]}"]
labels = {{ team = "video", env = "test" }}

[sources.partner]
provider = "generic"
tokens = ["{TOKENS["partner"]}"]
labels = {{ team = "video", env = "test" }}
statuses = {{ done = "completed", error = "failed", running = "processing" }}

[sources.partner.mapping]
task_id = "data.id"
status = "data.state"
video_urls = "data.outputs"
error = "data.error"
model = "data.model"
progress = "data.progress"
created_at = "data.created"
finished_at = "data.finished"

[sinks.out]
type = "file"
path = "{{dir}}/events.jsonl"

[[rules]]
name = "all"
sinks = ["out"]
"""

SEEDANCE = "doubao-seedance-1.0-pro-fast"
ARK_MODEL = "doubao-seedance-1-0-pro-250528"
ARK_VIDEO = (
    "https://ark-content-generation-cn-beijing.tos-cn-beijing.volces.com/"
    "doubao-seedance-1-0-pro/example.mp4?X-Tos-Expires=86400"
)

# (source, fixture provider, fixture name) -> the fields the event must carry.
EXPECTED: dict[tuple[str, str, str], dict[str, Any]] = {
    ("vibegen", "vibegen", "callback_completed"): {
        "type": "task.completed",
        "status": "completed",
        "provider_status": "completed",
        "task_id": "550e8400-e29b-41d4-a716-446655440000",
        "video_urls": ["https://cdn.example.com/videos/abc123.mp4"],
        "created_at": "2025-03-10T10:00:00.000Z",
        "finished_at": "2025-03-10T10:02:30.000Z",
    },
    ("vibegen", "vibegen", "callback_failed"): {
        "type": "task.failed",
        "status": "failed",
        "provider_status": "failed",
        "task_id": "550e8400-e29b-41d4-a716-446655440000",
        "error": ErrorInfo(message="Content policy violation"),
        "created_at": "2025-03-10T10:00:00.000Z",
        "finished_at": "2025-03-10T10:00:15.000Z",
    },
    ("evolink", "evolink", "callback_completed"): {
        "type": "task.completed",
        "status": "completed",
        "provider_status": "completed",
        "task_id": "task-unified-1761313744-vux2jw0k",
        "model": SEEDANCE,
        "video_urls": ["https://cdn.example.com/videos/vux2jw0k.mp4"],
        "progress": 100,
        "duration_s": 8.0,
        "credits": Credits(reserved=8),
        "created_at": "2025-10-24T13:49:04.000Z",
    },
    ("evolink", "evolink", "callback_failed"): {
        "type": "task.failed",
        "status": "failed",
        "provider_status": "failed",
        "task_id": "task-unified-1772618027-cmeisy8h",
        "model": SEEDANCE,
        "progress": 0,
        "error": ErrorInfo(
            code="content_policy_violation",
            message="Content policy violation.\nYour request was blocked by safety filters.",
        ),
        "created_at": "2026-03-04T09:53:47.000Z",
    },
    ("evolink", "evolink", "callback_cancelled"): {
        "type": "task.failed",
        "status": "cancelled",
        "provider_status": "cancelled",
        "task_id": "task-unified-1772618027-k2p9xq4z",
        "model": SEEDANCE,
        "progress": 20,
        "created_at": "2026-03-04T09:53:47.000Z",
    },
    ("evolink", "evolink", "callback_failed_request_cancelled"): {
        "type": "task.failed",
        "status": "cancelled",
        "provider_status": "failed",
        "task_id": "task-unified-1772618027-k2p9xq4z",
        "model": SEEDANCE,
        "progress": 20,
        "error": ErrorInfo(code="request_cancelled", message="The request was cancelled."),
        "created_at": "2026-03-04T09:53:47.000Z",
    },
    ("ark", "ark", "callback_queued"): {
        "type": "task.progress",
        "status": "pending",
        "provider_status": "queued",
        "task_id": "cgt-20250331175019-68d9t",
        "model": ARK_MODEL,
        "created_at": "2025-03-31T09:50:19.000Z",
    },
    ("ark", "ark", "callback_running"): {
        "type": "task.progress",
        "status": "processing",
        "provider_status": "running",
        "task_id": "cgt-20250331175019-68d9t",
        "model": ARK_MODEL,
        "created_at": "2025-03-31T09:50:19.000Z",
    },
    ("ark", "ark", "callback_succeeded"): {
        "type": "task.completed",
        "status": "completed",
        "provider_status": "succeeded",
        "task_id": "cgt-20250331175019-68d9t",
        "model": ARK_MODEL,
        "video_urls": [ARK_VIDEO],
        "created_at": "2025-03-31T09:50:19.000Z",
        "finished_at": "2025-03-31T09:51:13.000Z",
        "duration_s": 5.0,
        "resolution": "720p",
    },
    ("ark", "ark", "callback_failed"): {
        "type": "task.failed",
        "status": "failed",
        "provider_status": "failed",
        "task_id": "cgt-20250331175019-x7k2m",
        "model": ARK_MODEL,
        "error": ErrorInfo(
            code="OutputVideoSensitiveContentDetected",
            message="The request failed because the output video may contain sensitive"
            " information.",
        ),
        "created_at": "2025-03-31T09:50:19.000Z",
        "finished_at": "2025-03-31T09:50:50.000Z",
    },
    ("ark", "ark", "callback_expired"): {
        "type": "task.failed",
        "status": "expired",
        "provider_status": "expired",
        "task_id": "cgt-20250331175019-q4w8e",
        "model": ARK_MODEL,
        "created_at": "2025-03-31T09:50:19.000Z",
        "finished_at": "2025-04-02T09:50:19.000Z",
    },
    ("partner", "generic", "partner_done"): {
        "type": "task.completed",
        "status": "completed",
        "provider_status": "done",
        "task_id": "job_8842",
        "model": "partner-video-v3",
        "video_urls": ["https://media.partner.example/job_8842/final.mp4"],
        "progress": 100,
        "created_at": "2026-03-28T01:00:00.000Z",
        "finished_at": "2026-03-28T01:06:40.000Z",
    },
    ("partner", "generic", "partner_error"): {
        "type": "task.failed",
        "status": "failed",
        "provider_status": "error",
        "task_id": "8843",
        "error": ErrorInfo(code="E_QUOTA", message="Monthly quota exhausted"),
        "created_at": "2026-03-28T00:50:00.000Z",
    },
    ("partner", "generic", "partner_expired"): {
        "type": "task.failed",
        "status": "expired",
        "provider_status": "expired",
        "task_id": "job_8845",
        "error": ErrorInfo(message="Result was not collected in time"),
    },
    ("partner", "generic", "partner_running"): {
        "type": "task.progress",
        "status": "processing",
        "provider_status": "running",
        "task_id": "job_8844",
        "progress": 37,
    },
}

PROVIDER_OF = {"vibegen": "vibegen", "evolink": "evolink", "ark": "ark", "partner": "generic"}
FIXTURES = Path(__file__).parent / "fixtures" / "providers"
CALLBACK_PROVIDERS = ("vibegen", "evolink", "ark")


def test_every_callback_fixture_has_an_expected_event() -> None:
    on_disk = {
        (provider, path.stem)
        for provider in (*CALLBACK_PROVIDERS, "generic")
        for path in (FIXTURES / provider).glob("*.json")
        if provider == "generic" or path.stem.startswith("callback_")
    }
    assert on_disk == {(provider, name) for _, provider, name in EXPECTED}


def expected_event(source: str, fields: dict[str, Any], **identity: Any) -> Event:
    defaults: dict[str, Any] = {
        "model": None,
        "video_urls": [],
        "error": None,
        "progress": None,
        "credits": None,
        "created_at": None,
        "finished_at": None,
    }
    return Event(
        source=source,
        provider=PROVIDER_OF[source],
        labels=LABELS,
        verified_by=["token"],
        **{**defaults, **fields, **identity},
    )


async def events_in_file(path: Path, event_id: str) -> list[Event]:
    """Wait (bounded) for the file sink to write the event; return every line it wrote."""
    for _ in range(500):
        if path.exists() and event_id.encode() in path.read_bytes():
            break
        await asyncio.sleep(0.02)
    return [msgspec.json.decode(line, type=Event) for line in path.read_bytes().splitlines()]


@pytest.mark.parametrize(("source", "provider", "name"), list(EXPECTED))
async def test_callback_fixture_becomes_the_right_event(
    vidhook_factory: Any, tmp_path: Path, source: str, provider: str, name: str
) -> None:
    vidhook = await vidhook_factory(CONFIG)
    before = datetime.now(UTC).replace(microsecond=0)
    answer = await vidhook.client.post(
        f"/hooks/{source}/{TOKENS[source]}", content=fixture_bytes(provider, name)
    )
    after = datetime.now(UTC)
    assert answer.status_code == 200, answer.text
    assert answer.json()["duplicate"] is False
    event_id = answer.json()["id"]

    stored = await vidhook.services.store.get_event(event_id)
    assert stored is not None
    assert not stored.stale
    event = stored.event
    received = datetime.fromisoformat(event.received_at)
    assert event.received_at.endswith("Z")
    assert before <= received <= after
    assert event == expected_event(
        source, EXPECTED[source, provider, name], id=event_id, received_at=event.received_at
    )

    listed = await vidhook.services.store.list_events(EventFilter(source=source), 10)
    assert [item.event for item in listed] == [event]
    written = await events_in_file(tmp_path / "events.jsonl", event_id)
    assert written == [event]


SECRET_HEADERS = {
    "Authorization": "Bearer very-secret-bearer",
    "X-Signature": "sha256=feedfacefeedface",
    "webhook-signature": "v1,c2VjcmV0LXNpZ25hdHVyZQ==",
}


@pytest.mark.parametrize("in_query", [False, True], ids=["token-in-path", "token-in-query"])
async def test_raw_request_is_kept_with_secrets_redacted(
    vidhook_factory: Any, in_query: bool
) -> None:
    vidhook = await vidhook_factory(CONFIG)
    body = fixture_bytes("ark", "callback_succeeded")
    token = TOKENS["ark"]
    url = f"/hooks/ark?token={token}" if in_query else f"/hooks/ark/{token}"
    headers = {**SECRET_HEADERS, "X-Trace": "trace-42", "Content-Type": "application/json"}
    answer = await vidhook.client.post(url, content=body, headers=headers)
    assert answer.status_code == 200, answer.text

    raw = await vidhook.services.store.get_raw(answer.json()["id"])
    assert raw is not None
    assert raw.method == "POST"
    assert raw.body == body
    assert raw.client == "127.0.0.1"
    assert raw.path == "/hooks/ark" if in_query else raw.path == "/hooks/ark/[redacted]"
    assert raw.headers["authorization"] == "[redacted]"
    assert raw.headers["x-signature"] == "[redacted]"
    assert raw.headers["webhook-signature"] == "[redacted]"
    assert raw.headers["x-trace"] == "trace-42"
    assert raw.headers["content-type"] == "application/json"
    kept = msgspec.json.encode(raw).decode()
    for secret in (token, *SECRET_HEADERS.values()):
        assert secret not in kept


async def test_the_configured_hmac_header_is_redacted_too(vidhook_factory: Any) -> None:
    import hashlib
    import hmac

    vidhook = await vidhook_factory(
        """
        [sources.signed]
        provider = "vibegen"
        hmac = { header = "X-Partner-Sig", secret = "partner-hmac-secret" }
        """
    )
    body = fixture_bytes("vibegen", "callback_completed")
    signature = hmac.new(b"partner-hmac-secret", body, hashlib.sha256).hexdigest()
    answer = await vidhook.client.post(
        "/hooks/signed", content=body, headers={"X-Partner-Sig": signature}
    )
    assert answer.status_code == 200, answer.text
    raw = await vidhook.services.store.get_raw(answer.json()["id"])
    assert raw is not None
    assert raw.headers["x-partner-sig"] == "[redacted]"
