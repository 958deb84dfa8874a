"""The store's reads: listings, lookups and counts, each one named statement."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from vidhook.receiver.event import rfc3339_at
from vidhook.receiver.store import rows
from vidhook.receiver.store.connector import Connector, Row, fetch_all, fetch_one
from vidhook.receiver.store.records import (
    AttemptRecord,
    DeliveryRow,
    EventFilter,
    RawRequest,
    Rejection,
    SinkStats,
    StoredEvent,
    TaskRecord,
    TaskState,
)
from vidhook.receiver.store.usage_query import UsageBucket, group_params, usage_bucket

__all__ = ["StoreReads"]


class StoreReads:
    """The read side of `Store`, over the same connector.

    `list_events` is newest first (by received_at, then id) with `where.before_id`, the id of
    the last row shown, as the cursor; `count_events` counts the same filter; `held_events`
    lists events held for confirmation, oldest first; `next_due` is when the next unleased
    pending delivery (of `sinks`, if given) is due; `next_poll_at` the earliest next poll of a
    polled task. `list_tasks` lists tasks by state at `now`: `open` (no final status), `done`,
    `overdue` (open and past `grace_until`) or `polling` (polled, and past any grace);
    `task_counts` counts (open, overdue).
    """

    def __init__(self, connector: Connector, *, clock: Callable[[], float] = time.time) -> None:
        self.connector = connector
        self.url = connector.url
        self._clock = clock

    async def _all(self, name: str, **params: object) -> list[Row]:
        found: list[Row] = await self.connector.read(fetch_all(name, **params))
        return found

    async def _one(self, name: str, **params: object) -> Row | None:
        found: Row | None = await self.connector.read(fetch_one(name, **params))
        return found

    async def get_meta(self, key: str) -> str | None:
        row = await self._one("get_meta", key=key)
        return None if row is None else str(row["value"])

    async def lease_owners(self) -> list[str]:
        """Every worker that holds a lease now, expired or not."""
        return [row["lease_owner"] for row in await self._all("lease_owners")]

    async def next_due(self, now: float, sinks: Sequence[str] | None = None) -> float | None:
        names = None if sinks is None else rows.encode(list(sinks)).decode()
        row = await self._one("next_due", now=now, sinks=names)
        return None if row is None or row["at"] is None else float(row["at"])

    async def outbox_depth(self) -> tuple[int, float | None]:
        """How many deliveries are pending, and when the oldest was stored (unix seconds)."""
        row = await self._one("outbox_depth")
        assert row is not None
        return int(row["depth"]), row["oldest"]

    async def list_events(self, where: EventFilter, limit: int) -> list[StoredEvent]:
        params = await self._event_filter(where)
        if where.labels:  # one label leads, from an index of labels where the store has one
            lead = rows.labels_json(dict([next(iter(where.labels.items()))]))
            found = await self._all("list_events_labelled", **params, lead=lead, limit=limit)
        else:
            found = await self._all("list_events", **params, limit=limit)
        return [rows.stored_event(r) for r in found]

    async def count_events(self, where: EventFilter) -> int:
        row = await self._one("count_events", **await self._event_filter(where))
        assert row is not None
        return int(row["count"])

    async def event_ids_below(self, bound: str, limit: int) -> list[str]:
        """The largest event ids below `bound`, largest first (by id, not by time)."""
        return [str(r["id"]) for r in await self._all("event_ids_below", bound=bound, limit=limit)]

    async def _event_filter(self, where: EventFilter) -> dict[str, object]:
        """`_filter(where)` with the cursor's time: listings run newest first by
        (received_at, id), and the cursor is the id of the last row shown. An id no longer
        stored (pruned meanwhile) stands for the moment its UUIDv7 holds."""
        params = _filter(where)
        if where.before_id is not None:
            row = await self._one("event_received_at", id=where.before_id)
            params["before_at"] = uuid7_time(where.before_id) if row is None else row["received_at"]
        return params

    async def get_event(self, event_id: str) -> StoredEvent | None:
        row = await self._one("get_event", id=event_id)
        return None if row is None else rows.stored_event(row)

    async def get_raw(self, event_id: str) -> RawRequest | None:
        row = await self._one("get_raw", id=event_id)
        return None if row is None else rows.raw_request(row)

    async def deliveries_of(self, event_id: str) -> list[DeliveryRow]:
        return [rows.delivery(r) for r in await self._all("deliveries_of_event", id=event_id)]

    async def attempts_of(self, event_id: str) -> list[AttemptRecord]:
        return [rows.attempt(r) for r in await self._all("attempts_of_event", id=event_id)]

    async def list_deliveries(
        self, state: str | None, sink: str | None, before_id: str | None, limit: int
    ) -> list[DeliveryRow]:
        params = {"state": state, "sink": sink, "before_id": before_id, "limit": limit}
        return [rows.delivery(r) for r in await self._all("list_deliveries", **params)]

    async def get_delivery(self, delivery_id: str) -> DeliveryRow | None:
        row = await self._one("get_delivery", id=delivery_id)
        return None if row is None else rows.delivery(row)

    async def sink_stats(self) -> list[SinkStats]:
        return [rows.sink_stats(r) for r in await self._all("sink_stats")]

    async def list_rejected(self, limit: int) -> list[Rejection]:
        return [rows.rejection(r) for r in await self._all("list_rejected", limit=limit)]

    async def get_task(self, source: str, task_id: str) -> TaskRecord | None:
        row = await self._one("task_row", source=source, task_id=task_id)
        return None if row is None else rows.task(row)

    async def list_tasks(
        self, source: str | None, state: TaskState | None, limit: int, *, now: float
    ) -> list[TaskRecord]:
        """Tasks in `state` at `now` (any state: None), most recently changed first."""
        params = {"source": source, "state": state, "now": now, "limit": limit}
        return [rows.task(r) for r in await self._all("list_tasks", **params)]

    async def task_counts(self, now: float) -> tuple[int, int]:
        """How many tasks are open, and how many of them are overdue, at `now`."""
        row = await self._one("task_counts", now=now)
        return (0, 0) if row is None else (int(row["open"]), int(row["overdue"]))

    async def next_poll_at(self) -> float | None:
        row = await self._one("next_poll_at")
        return None if row is None or row["at"] is None else float(row["at"])

    async def usage(self, since: str, until: str, group_by: Sequence[str]) -> list[UsageBucket]:
        """Usage of events received in [since, until) (RFC 3339), per group of `group_by`
        (event fields or `labels.KEY`, see `usage_query`) and price bucket, aggregated by
        the database."""
        keys = group_params(group_by)
        found = await self._all("usage", since=since, until=until, **keys)
        return [usage_bucket(row, len(group_by)) for row in found]

    async def count_range(self, since: str, until: str) -> int:
        """How many events were received in [since, until): the usage benchmark's baseline."""
        row = await self._one("usage_baseline", since=since, until=until)
        return 0 if row is None else int(row["count"])

    async def held_events(self, limit: int) -> list[StoredEvent]:
        return [rows.stored_event(r) for r in await self._all("held_events", limit=limit)]


def _filter(where: EventFilter) -> dict[str, object]:
    """The `event_filter` parameters: every field, None where unset (no labels too), so the
    connectors settle each unset field's optional term before the database plans it; labels
    as JSON."""
    return {
        "since": where.since,
        "until": where.until,
        "source": where.source,
        "provider": where.provider,
        "type": where.type,
        "status": where.status,
        "task_id": where.task_id,
        "model": where.model,
        "before_id": where.before_id,
        "before_at": None,
        "sink": where.sink,
        "labels": rows.labels_json(where.labels) if where.labels else None,
    }


def uuid7_time(event_id: str) -> str:
    """The moment a UUIDv7 was made, as RFC 3339 (the epoch for text that is not one)."""
    try:
        ms = int(event_id.replace("-", "")[:12], 16)
    except ValueError:
        ms = 0
    try:
        return rfc3339_at(ms / 1000)
    except (OverflowError, ValueError, OSError):
        return rfc3339_at(0)
