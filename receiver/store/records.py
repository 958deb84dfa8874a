"""The records the store takes and gives, shared by every store implementation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import msgspec

from vidhook.receiver.event import Event

__all__ = [
    "REGISTERED",
    "ArchiveCopy",
    "ArchiveCounts",
    "ArchiveJob",
    "ArchivePlan",
    "ArchiveState",
    "AttemptRecord",
    "DeliveryRow",
    "DueDelivery",
    "EventFilter",
    "GroupBatch",
    "GroupJoin",
    "IngestResult",
    "Linker",
    "PollPlan",
    "RawRequest",
    "Rejection",
    "Router",
    "Routes",
    "SinkHealth",
    "SinkStats",
    "StoredEvent",
    "TaskRecord",
    "TaskState",
]


class GroupJoin(msgspec.Struct, frozen=True, kw_only=True):
    """An event's place in a rule's group for one sink: `key` is the group key (JSON of the
    `group_by` paths and the event's values), `wait` the rule's `group_wait` and `every` its
    `group_interval`, in seconds."""

    rule: str
    sink: str
    key: str
    wait: float
    every: float


class Routes(msgspec.Struct, frozen=True):
    """Where an event goes: one delivery for each (rule, sink) pair, and a place in a group for
    each join (a grouped rule's slack and email sinks)."""

    pairs: list[tuple[str, str]]
    joins: list[GroupJoin] = []


# Picks where an event goes, as (rule, sink) pairs or as Routes with group joins; called inside
# the ingest transaction, after labels merge.
Router = Callable[[Event], list[tuple[str, str]] | Routes]

# `held` waits for the provider to confirm its event; `rejected` was held and is never sent,
# because the provider contradicted the event.
# The status and rank of a task vidhook knows of but has heard no status for: every first
# report of it is news. Both stores use it, so they agree on what "registered" means.
REGISTERED: tuple[str, int] = ("registered", -1)

DeliveryState = Literal["pending", "held", "delivered", "dead", "rejected"]
AttemptOutcome = Literal["delivered", "retry", "dead"]


class RawRequest(msgspec.Struct, kw_only=True):
    """The request a callback arrived in, with secret headers already redacted."""

    method: str
    path: str
    client: str
    headers: dict[str, str]
    body: bytes


class IngestResult(msgspec.Struct, kw_only=True):
    """What storing an event did: the stored event (or the earlier one it repeats)."""

    event: Event
    duplicate: bool
    stale: bool
    deliveries: int


class Rejection(msgspec.Struct, kw_only=True):
    """A refused request, kept in a bounded log for debugging."""

    at: str
    source: str | None
    reason: str
    status: int
    message: str
    client: str
    size: int
    head: bytes


class DueDelivery(msgspec.Struct, kw_only=True):
    """A delivery claimed by a worker, with what it needs to send."""

    id: str
    event_id: str
    sink: str
    webhook_id: str
    attempts: int
    replay: bool
    event: Event
    raw_body: bytes | None
    group_id: str | None = None
    digest_id: str | None = None


class GroupBatch(msgspec.Struct, kw_only=True):
    """A flushed group, as its one delivery sends it: the rule, the group key as (path, value)
    pairs, how many events it holds, the first few of them (oldest first), and the times of
    its first and last event (RFC 3339)."""

    id: str
    rule: str
    key: list[tuple[str, str]]
    count: int
    events: list[Event]
    since: str
    until: str


class AttemptRecord(msgspec.Struct, kw_only=True):
    """One delivery attempt and what it led to (`next_at` when retrying)."""

    delivery_id: str
    number: int
    at: str
    outcome: AttemptOutcome
    latency_ms: float
    status_code: int | None = None
    error: str | None = None
    response: str | None = None
    next_at: float | None = None


class DeliveryRow(msgspec.Struct, kw_only=True):
    """A delivery as the admin API shows it."""

    id: str
    event_id: str
    sink: str
    rule: str | None
    state: DeliveryState
    replay: bool
    webhook_id: str
    attempts: int
    next_at: float
    created_at: str
    updated_at: str
    last_error: str | None


class StoredEvent(msgspec.Struct, kw_only=True):
    """An event with its storage flags: `stale` (arrived after a later status), `held`."""

    event: Event
    stale: bool
    held: bool
    note: str | None


class EventFilter(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Which events to list or replay. Times are RFC 3339; `before_id` is the cursor."""

    since: str | None = None
    until: str | None = None
    source: str | None = None
    provider: str | None = None
    type: str | None = None
    status: str | None = None
    task_id: str | None = None
    model: str | None = None
    labels: dict[str, str] = {}
    sink: str | None = None
    before_id: str | None = None


class SinkStats(msgspec.Struct, kw_only=True):
    """A sink's backlog and latest outcomes."""

    sink: str
    pending: int
    dead: int
    delivered: int
    last_success: str | None
    last_failure: str | None
    last_error: str | None


class SinkHealth(msgspec.Struct, kw_only=True):
    """A sink's circuit breaker: consecutive failed attempts and, while paused, since when,
    by whom (`automatic`, or `hand` with the `actor` who did it) and when the next probe may
    go. Times are unix seconds."""

    sink: str
    failures: int = 0
    paused_at: float | None = None
    paused_by: Literal["automatic", "hand"] | None = None
    actor: str | None = None
    next_probe_at: float | None = None
    last_error: str | None = None
    updated_at: float = 0.0

    @property
    def paused(self) -> bool:
        return self.paused_at is not None


class TaskRecord(msgspec.Struct, kw_only=True):
    """A task vidhook knows of: its latest status, labels and polling state.

    `grace_until` (unix time) is set for a task whose provider calls back: past it with no
    final status, the task is overdue and the safety net polls it.
    """

    source: str
    task_id: str
    status: str
    labels: dict[str, str]
    created_at: str
    updated_at: str
    poll: bool
    poll_next_at: float | None
    poll_deadline: float | None
    poll_interval: float | None
    poll_errors: int
    grace_until: float | None = None


# Which tasks `list_tasks` lists: see the Store protocol.
TaskState = Literal["open", "done", "overdue", "polling"]


class PollPlan(msgspec.Struct, kw_only=True):
    """When to query a task first, how often after that, and when to give up on it; for a
    task whose provider calls back, also until when its final callback is awaited."""

    next_at: float
    interval: float
    deadline: float
    grace_until: float | None = None


# `removing`: its event or its retention is gone; the stored copy is deleted before the row.
ArchiveState = Literal["pending", "archived", "dead", "removing"]


class ArchivePlan(msgspec.Struct, kw_only=True, frozen=True):
    """How ingest files archive jobs for a completed event with videos: its deliveries wait up
    to `wait` seconds for them (0: they do not wait), and they give up `window` seconds after
    the event, when the provider's links have expired."""

    wait: float = 0.0
    window: float = 86400.0


class ArchiveJob(msgspec.Struct, kw_only=True):
    """One video of one event to keep: where it comes from and, once archived, what was kept."""

    id: str
    event_id: str
    n: int
    url: str
    state: ArchiveState
    attempts: int
    next_at: float
    give_up_at: float
    key: str | None
    size: int | None
    sha256: str | None
    content_type: str | None
    etag: str | None
    archived_at: float | None
    created_at: str
    updated_at: str
    last_error: str | None


class ArchiveCopy(msgspec.Struct, kw_only=True, frozen=True):
    """What the archive store kept of one video."""

    key: str
    size: int
    sha256: str
    content_type: str
    etag: str


class ArchiveCounts(msgspec.Struct, kw_only=True):
    """How many archive jobs wait, gave up and are kept."""

    pending: int
    dead: int
    archived: int


# The archived_urls of an event, in video_urls' order, from its archive jobs ("" where a
# video has no copy); called inside the transaction that records a copy.
Linker = Callable[[Event, list[ArchiveJob]], list[str]]
