"""What the admin API answers: the Structs its OpenAPI schema is drawn from."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from vidhook.receiver.config import ProviderName
from vidhook.receiver.event import Event, EventType, Status
from vidhook.receiver.store.records import (
    AttemptRecord,
    DeliveryRow,
    RawRequest,
    Rejection,
    StoredEvent,
)
from vidhook.receiver.stored_headers import stored_headers

__all__ = [
    "AttemptView",
    "DeliveryPage",
    "EventDetail",
    "EventPage",
    "RawView",
    "RejectionPage",
    "RejectionView",
    "ReplayEventRequest",
    "ReplayRequest",
    "ReplayedEvent",
    "RetriedDead",
    "RulesReloaded",
    "SinkList",
    "SinkView",
    "SourceList",
    "SourceView",
]


class EventPage(msgspec.Struct, kw_only=True):
    """A page of stored events, newest first; pass `next_cursor` as `cursor` for the next."""

    items: list[StoredEvent]
    next_cursor: str | None


class RawView(msgspec.Struct, kw_only=True):
    """The request an event arrived in; secret headers and URL tokens are redacted."""

    method: str
    path: str
    client: str
    headers: dict[str, str]
    body: str

    @classmethod
    def of(cls, raw: RawRequest) -> RawView:
        """The view of a stored raw request (body as text, bad UTF-8 replaced)."""
        return cls(
            method=raw.method,
            path=raw.path,
            client=raw.client,
            # Again on the way out: requests stored before a header was known secret.
            headers=stored_headers(raw.headers),
            body=raw.body.decode("utf-8", "replace"),
        )


class AttemptView(msgspec.Struct, kw_only=True):
    """One delivery attempt: when, how it went, and what the sink answered."""

    delivery_id: str
    number: int
    at: str
    outcome: Literal["delivered", "retry", "dead"]
    latency_ms: float
    status_code: int | None
    error: str | None
    response: str | None

    @classmethod
    def of(cls, record: AttemptRecord) -> AttemptView:
        """The view of a stored attempt."""
        fields = msgspec.structs.asdict(record)
        fields.pop("next_at")
        return cls(**fields)


class EventDetail(msgspec.Struct, kw_only=True):
    """An event with its raw request and its whole delivery history, replays included."""

    event: Event
    stale: bool
    held: bool
    note: str | None
    raw: RawView | None
    deliveries: list[DeliveryRow]
    attempts: list[AttemptView]


class ReplayEventRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Replay one event: to the named sinks, or through the current rules when left out."""

    sinks: list[str] | None = None


class ReplayedEvent(msgspec.Struct, kw_only=True):
    """The deliveries a replay of one event made (`replay` true, new webhook ids)."""

    event_id: str
    deliveries: list[DeliveryRow]


class ReplayRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Replay every event matching a filter. Times are RFC 3339 or an age such as `7d`;
    `sink` picks events that were once routed to that sink; `sinks` names where the replay
    goes (default: the current rules); `dry_run` only counts."""

    since: str | None = None
    until: str | None = None
    source: str | None = None
    provider: ProviderName | None = None
    type: EventType | None = None
    status: Status | None = None
    task_id: str | None = None
    model: str | None = None
    labels: dict[str, str] = {}
    sink: str | None = None
    sinks: list[str] | None = None
    dry_run: bool = False

    def filter_fields(self) -> dict[str, Any]:
        """The exact-match filter fields that are set."""
        names = ("source", "provider", "type", "status", "task_id", "model", "sink")
        return {name: getattr(self, name) for name in names}


class DeliveryPage(msgspec.Struct, kw_only=True):
    """A page of deliveries, newest first; pass `next_cursor` as `cursor` for the next."""

    items: list[DeliveryRow]
    next_cursor: str | None


class RetriedDead(msgspec.Struct, kw_only=True):
    """How many dead deliveries of a sink were put back in the outbox."""

    sink: str
    retried: int


class SinkView(msgspec.Struct, kw_only=True):
    """A sink's backlog, latest outcomes and health; `configured` is false for a sink that has
    deliveries on record but is no longer in the config.

    `state` is `paused` while its deliveries wait: since `paused_since`, paused `automatic`ally
    after `consecutive_failures` failed attempts in a row (a probe goes out at `next_probe`) or
    by `hand` (`paused_by_name` says who: `token:NAME` or `cli:USER`; no probes)."""

    name: str
    type: str | None
    configured: bool
    pending: int
    dead: int
    delivered: int
    last_success: str | None
    last_failure: str | None
    last_error: str | None
    state: Literal["active", "paused"] = "active"
    paused_since: str | None = None
    paused_by: Literal["automatic", "hand"] | None = None
    paused_by_name: str | None = None
    consecutive_failures: int = 0
    next_probe: str | None = None


class SinkList(msgspec.Struct, kw_only=True):
    """Every sink."""

    items: list[SinkView]


class RejectionView(msgspec.Struct, kw_only=True):
    """A refused request: why, from where, and the start of its body."""

    at: str
    source: str | None
    reason: str
    status: int
    message: str
    client: str
    size: int
    head: str

    @classmethod
    def of(cls, rejection: Rejection) -> RejectionView:
        """The view of a logged rejection (body head as text, bad UTF-8 replaced)."""
        fields = msgspec.structs.asdict(rejection)
        fields["head"] = rejection.head.decode("utf-8", "replace")
        return cls(**fields)


class RejectionPage(msgspec.Struct, kw_only=True):
    """The newest refused requests, newest first (the log itself is bounded)."""

    items: list[RejectionView]


class SourceView(msgspec.Struct, kw_only=True):
    """A configured source and the callback URL to give its provider.

    `callback_url` is null for providers that never call back (vidhook polls them). Its URL
    token is shown only to tokens with the `admin` scope.
    """

    name: str
    provider: str
    callback_url: str | None
    checks: list[str]
    confirm: bool


class SourceList(msgspec.Struct, kw_only=True):
    """Every configured source."""

    items: list[SourceView]


class RulesReloaded(msgspec.Struct, kw_only=True):
    """The rules now in force, by name, in matching order."""

    rules: list[str]
