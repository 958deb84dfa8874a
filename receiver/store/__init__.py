"""Storage behind one small protocol, with SQLite and PostgreSQL implementations."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from vidhook.receiver.errors import ConfigError
from vidhook.receiver.event import Event
from vidhook.receiver.store.records import (
    AttemptRecord,
    DeliveryRow,
    DueDelivery,
    EventFilter,
    IngestResult,
    PollPlan,
    RawRequest,
    Rejection,
    Router,
    SinkStats,
    StoredEvent,
    TaskRecord,
)

__all__ = ["Store", "open_store"]


class Store(Protocol):
    """Where vidhook keeps events, raw requests, tasks, the outbox and attempts.

    `ingest` commits the event, its raw request and its deliveries in one transaction before it
    returns; a repeat of (source, task_id, status) stores nothing and says `duplicate`.

    Admin reads: `list_events` is newest first (by id) with `where.before_id` as the cursor and
    `count_events` counts the same filter; `add_deliveries_many` adds (rule, sink) deliveries for
    many events in one commit, due at `now`, each with a new id and webhook id;
    `retry_delivery` makes a dead or unleased pending delivery due at `now` (false for
    delivered, held or leased ones); `prune` keeps events with pending or held deliveries, and
    deletes tasks last updated before the cutoff that are terminal or not polled and have no
    event left.

    Tasks: `register_task` inserts a task unknown so far as status `registered`, rank -1 (so
    every first report of it is news), or merges `labels` over the stored ones; with a
    `PollPlan` it polls the task unless its rank is already terminal (2), resetting
    `poll_errors`. `claim_polls` takes up to `limit` of one source's tasks with `poll` set and
    `poll_next_at <= now`, earliest first, sets their `poll_next_at` to `now + lease` (so no
    other instance takes them meanwhile) and returns them; `set_poll` schedules the next poll
    (keeping `poll_interval` when given None) or, with `next_at=None`, clears `poll`;
    `next_poll_at` is the earliest `poll_next_at` of a polled task. Ingest stops polling a
    task once it reaches a terminal status.

    Held events: `held_events` lists events with `held` set, oldest first; `release_held` clears
    `held`, stores `event` (same id, source, task and status: the provider's own account of
    it) in place of the held one, and replaces its held deliveries by `pairs`, pending,
    returning how many (0 if the event is not held); `reject_held` clears
    `held`, sets `note`, moves held deliveries to `rejected` (last_error = note), sets the
    event's status column to `rejected:<event id>` so the (source, task_id, status) slot is free
    for the genuine report, and resets the task's status and rank to the highest of its other
    unrejected, unstale events (`registered`, -1 if none), polling it again from `now` when it
    has a `poll_deadline` and is not terminal; false if the event is not held.
    """

    url: str

    async def open(self) -> None: ...
    async def close(self) -> None: ...
    async def ping(self) -> None: ...
    def on_new_deliveries(self, callback: object) -> None: ...

    async def ingest(
        self, event: Event, raw: RawRequest, route: Router, *, hold: bool = False
    ) -> IngestResult: ...
    async def record_rejection(self, rejection: Rejection, keep: int) -> None: ...
    async def get_meta(self, key: str) -> str | None: ...
    async def set_meta(self, key: str, value: str) -> None: ...

    async def claim(
        self, sink: str, owner: str, now: float, lease: float, limit: int
    ) -> list[DueDelivery]: ...
    async def finish(self, attempt: AttemptRecord) -> None: ...
    async def release(self, owner: str) -> None: ...
    async def lease_owners(self) -> list[str]: ...
    async def next_due(self, now: float, sinks: Sequence[str] | None = None) -> float | None: ...
    async def outbox_depth(self) -> tuple[int, float | None]: ...

    async def list_events(self, where: EventFilter, limit: int) -> list[StoredEvent]: ...
    async def count_events(self, where: EventFilter) -> int: ...
    async def get_event(self, event_id: str) -> StoredEvent | None: ...
    async def get_raw(self, event_id: str) -> RawRequest | None: ...
    async def deliveries_of(self, event_id: str) -> list[DeliveryRow]: ...
    async def attempts_of(self, event_id: str) -> list[AttemptRecord]: ...
    async def list_deliveries(
        self, state: str | None, sink: str | None, before_id: str | None, limit: int
    ) -> list[DeliveryRow]: ...
    async def add_deliveries(
        self, event_id: str, pairs: list[tuple[str | None, str]], *, replay: bool, now: float
    ) -> list[str]: ...
    async def add_deliveries_many(
        self, plan: list[tuple[str, list[tuple[str | None, str]]]], *, replay: bool, now: float
    ) -> int: ...
    async def get_delivery(self, delivery_id: str) -> DeliveryRow | None: ...
    async def retry_delivery(self, delivery_id: str, now: float) -> bool: ...
    async def retry_dead(self, sink: str | None, now: float) -> int: ...
    async def sink_stats(self) -> list[SinkStats]: ...
    async def list_rejected(self, limit: int) -> list[Rejection]: ...
    async def prune(self, before: str) -> int: ...

    async def register_task(
        self,
        source: str,
        task_id: str,
        labels: dict[str, str],
        *,
        now: float,
        poll: PollPlan | None,
    ) -> TaskRecord: ...
    async def get_task(self, source: str, task_id: str) -> TaskRecord | None: ...
    async def list_tasks(
        self, source: str | None, polling: bool | None, limit: int
    ) -> list[TaskRecord]: ...
    async def claim_polls(
        self, source: str, now: float, lease: float, limit: int
    ) -> list[TaskRecord]: ...
    async def set_poll(
        self,
        source: str,
        task_id: str,
        *,
        next_at: float | None,
        errors: int,
        interval: float | None = None,
    ) -> None: ...
    async def next_poll_at(self) -> float | None: ...
    async def held_events(self, limit: int) -> list[StoredEvent]: ...
    async def release_held(self, event: Event, pairs: list[tuple[str, str]]) -> int: ...
    async def reject_held(self, event_id: str, note: str, *, now: float) -> bool: ...


def open_store(url: str) -> Store:
    """The store for a `store.url`: `sqlite:///path` or `postgresql://...`."""
    if url.startswith("sqlite://"):
        from vidhook.receiver.store.sqlite import SqliteStore

        return SqliteStore(url)
    if url.startswith(("postgresql://", "postgres://")):
        from vidhook.receiver.store.postgres import PostgresStore  # type: ignore[import-not-found,unused-ignore]

        store: Store = PostgresStore(url)
        return store
    raise ConfigError(f"store.url: unsupported scheme in {url!r}; use sqlite:/// or postgresql://")
