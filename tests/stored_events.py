"""Stored events for the admin and CLI tests: a config with API tokens of each scope, and
events put straight into a store (many at once, through the store's own group commit)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from vidhook.receiver.event import Event, new_id, rfc3339
from vidhook.receiver.store import Store
from vidhook.receiver.store.records import AttemptRecord, RawRequest

ADMIN = "admin-token-0123456789"
READER = "reader-token-0123456789"
SUBMITTER = "submit-token-0123456789"
HOOK = "hook-token-0123456789"

CONFIG = f"""
[[api_tokens]]
name = "ops"
token = "{ADMIN}"
scopes = ["read", "admin"]

[[api_tokens]]
name = "viewer"
token = "{READER}"
scopes = ["read"]

[[api_tokens]]
name = "app"
token = "{SUBMITTER}"
scopes = ["submit"]

[sources.vibegen]
provider = "vibegen"
tokens = ["{HOOK}"]

[sources.evolink]
provider = "evolink"
tokens = ["{HOOK}"]

[sources.videoapi]
provider = "videoapi"

[sinks.out]
type = "file"
path = "{{dir}}/out.jsonl"

[sinks.ops]
type = "http"
url = "http://127.0.0.1:9/unreachable"

[[rules]]
name = "failures"
when = {{ type = "task.failed" }}
sinks = ["ops"]

[[rules]]
name = "everything"
sinks = ["out"]
"""


def bearer(token: str = ADMIN) -> dict[str, str]:
    """The Authorization header for an API token."""
    return {"Authorization": f"Bearer {token}"}


def make_event(number: int, **fields: Any) -> Event:
    """A stored-style event: task `task-<number>`, completed unless `fields` say otherwise."""
    values: dict[str, Any] = {
        "id": new_id(),
        "type": "task.completed",
        "source": "vibegen",
        "provider": "vibegen",
        "task_id": f"task-{number}",
        "status": "completed",
        "provider_status": "completed",
        "video_urls": [f"https://cdn.example.com/v/{number}.mp4"],
        "received_at": rfc3339(datetime.now(UTC)),
        "verified_by": ["token"],
    }
    if fields.get("status") == "failed":
        values |= {"type": "task.failed", "video_urls": [], "provider_status": "failed"}
    values.update(fields)
    return Event(**values)


RAW = RawRequest(
    method="POST",
    path="/hooks/vibegen/[redacted]",
    client="127.0.0.1",
    headers={"content-type": "application/json", "authorization": "[redacted]"},
    body=b'{"task_id": "x"}',
)


def no_route(_: Event) -> list[tuple[str, str]]:
    """A router that sends nothing: events stored only, so replays make the only deliveries."""
    return []


async def ingest_many(
    store: Store,
    events: list[Event],
    route: Callable[[Event], list[tuple[str, str]]] = no_route,
    batch: int = 500,
) -> None:
    """Ingest events concurrently in batches, so group commit writes many per transaction."""
    for start in range(0, len(events), batch):
        chunk = events[start : start + batch]
        await asyncio.gather(*(store.ingest(event, RAW, route) for event in chunk))


async def kill_delivery(store: Store, sink: str, error: str = "connection refused") -> str:
    """Claim one due delivery of `sink` and record a final failure; return its id."""
    claimed = await store.claim(sink, "test-worker", 1e12, 60, 1)
    assert claimed, f"no due delivery for {sink}"
    delivery = claimed[0]
    await store.finish(
        AttemptRecord(
            delivery_id=delivery.id,
            number=delivery.attempts + 1,
            at=rfc3339(datetime.now(UTC)),
            outcome="dead",
            latency_ms=1.0,
            error=error,
        )
    )
    return delivery.id
