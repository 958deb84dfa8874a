"""Events, raw requests and routers for the store contract tests."""

from __future__ import annotations

from vidhook.receiver.event import Event, Status, event_type, new_id
from vidhook.receiver.store.records import RawRequest, Router

__all__ = ["MEMORY", "RAW", "T0", "at", "make_event", "route_to"]

T0 = 1_700_000_000.0  # the claim tests' "now": a fixed clock, so leases are exact

# The in-memory SQLite store: one connection, one database, gone when the store closes.
MEMORY = "sqlite://"

RAW = RawRequest(
    method="POST",
    path="/hooks/vg/tok",
    client="203.0.113.7",
    headers={"content-type": "application/json", "x-signature": "<redacted>"},
    body=b'{"task_id": "t", "status": "completed"}',
)


def at(day: int, second: int = 0) -> str:
    """An RFC 3339 time on day `day` of January 2024."""
    return f"2024-01-{day:02d}T00:00:{second:02d}.000Z"


def make_event(
    task_id: str,
    status: Status = "completed",
    *,
    source: str = "vg",
    provider: str = "vibegen",
    model: str | None = "seedance-1.0-pro",
    labels: dict[str, str] | None = None,
    received_at: str | None = None,
) -> Event:
    """A normalised event with a fresh id."""
    return Event(
        id=new_id(),
        type=event_type(status),
        source=source,
        provider=provider,
        task_id=task_id,
        status=status,
        provider_status=status,
        model=model,
        video_urls=["https://cdn.example.com/v.mp4"] if status == "completed" else [],
        labels=labels or {},
        received_at=received_at or at(10),
    )


def route_to(*sinks: str) -> Router:
    """A router sending every event to `sinks`, each by the rule named `rule-<sink>`."""

    def route(event: Event) -> list[tuple[str, str]]:
        return [(f"rule-{sink}", sink) for sink in sinks]

    return route
