"""The store: every business rule of vidhook's storage, written once over a `Connector`."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import msgspec

from vidhook.receiver.background import BackgroundLoop, Supervisor
from vidhook.receiver.errors import StoreUnavailable
from vidhook.receiver.event import Event, rfc3339_at
from vidhook.receiver.providers.usage_facts import UsageFacts
from vidhook.receiver.store import rows, scripts
from vidhook.receiver.store.archive_store import ArchiveStore
from vidhook.receiver.store.connector import execute, fetch_all, fetch_one
from vidhook.receiver.store.records import (
    ArchivePlan,
    AttemptRecord,
    DueDelivery,
    IngestResult,
    PollPlan,
    RawRequest,
    Rejection,
    Router,
    Routes,
    TaskRecord,
)
from vidhook.receiver.store.store_digests import StoreDigests
from vidhook.receiver.store.store_groups import StoreGroups
from vidhook.receiver.store.store_health import StoreHealth
from vidhook.receiver.store.store_sessions import StoreSessions
from vidhook.receiver.store.usage_columns import encode_facts

__all__ = ["Store"]

Pairs = list[tuple[str | None, str]]


def _text(moment: float) -> str:
    return rfc3339_at(moment)


class Store(ArchiveStore, StoreGroups, StoreHealth, StoreSessions, StoreDigests):
    """Where vidhook keeps events, raw requests, tasks, the outbox and attempts.

    `ingest` commits the event, its raw request and its deliveries (and, given an archive plan,
    its archive jobs) in one transaction before it returns; a repeat of (source, task_id,
    status) stores nothing and says `duplicate`.
    `add_deliveries_many` adds (rule, sink) deliveries for many events in one commit, due at
    `now`; `retry_delivery` makes a dead or unleased pending delivery due at `now` (false for
    delivered, held or leased ones); `prune` keeps events with pending or held deliveries, and
    deletes tasks last updated before the cutoff that are terminal or not polled and have no
    event left.

    Tasks: `register_task` inserts a task unknown so far as status `registered`, rank -1 (so
    every first report of it is news), or merges `labels` over the stored ones; with a
    `PollPlan` it polls the task unless its rank is already terminal (2), resetting
    `poll_errors`. `claim_polls` takes up to `limit` of one source's due polled tasks and
    pushes their next poll `lease` seconds out; `set_poll` schedules the next poll (keeping
    `poll_interval` when given None) or, with `next_at=None`, stops polling. Ingest stops
    polling a task once it reaches a terminal status. A plan's `grace_until` (the safety
    net's: until then a callback is awaited) is kept once set. `take_query_turn` hands out a
    provider API key's query turns, `spacing` apart, to every instance on the database, and
    `pause_queries` holds them back after a 429.

    Groups: see `StoreGroups`; an event a route groups joins its groups in `ingest` instead of
    getting deliveries for those sinks.

    Held events: `release_held` and `reject_held` settle an event held for confirmation (see
    `scripts.py`). Times the caller passes (`now`) are used as given; `clock` is read only
    where no time is passed.
    """

    _own_loops: Supervisor | None = None  # when the store runs its loops itself

    @property
    def loops(self) -> Sequence[BackgroundLoop]:
        """The connector's own loops (SQLite's writer, PostgreSQL's listener), in start order;
        a server's supervisor runs them as its base (see `Supervisor`)."""
        return self.connector.loops

    async def open(self, *, run_loops: bool = True) -> None:
        """Connect, check and migrate the database. With `run_loops` (a store used alone: the
        CLI, tests) a supervisor of the store's own runs `loops` until `close`; a server
        passes False and runs them under its one supervisor."""
        await self.connector.open()
        if run_loops:
            self._own_loops = Supervisor(base=self.loops)
            self._own_loops.start()

    async def close(self) -> None:
        """Finish queued writes (when the store runs its loops) and close every connection."""
        if self._own_loops is not None:
            await self._own_loops.stop()
            self._own_loops = None
        await self.connector.close()

    async def ready(self) -> None:
        """Raise StoreUnavailable unless the store can commit a write now: a real small commit
        (on SQLite one that needs room for a callback), which a full disk, a read-only or
        corrupted file, or a database in recovery all fail."""
        await self.connector.write(execute("readiness_probe", at=_text(self._clock())))

    def on_new_deliveries(self, callback: Callable[[], None]) -> None:
        """Call `callback()` after each commit, here or in another instance, that added
        pending deliveries."""
        self.connector.on_wake(callback)

    async def ingest(
        self,
        event: Event,
        raw: RawRequest,
        route: Router,
        *,
        hold: bool = False,
        archive: ArchivePlan | None = None,
    ) -> IngestResult:
        """Store the event, its raw request and its deliveries (or group joins) in one commit."""
        moment = self._clock()
        now = _text(moment)
        return await self.connector.transaction(
            lambda: scripts.ingest(
                event, raw, route, hold=hold, now=now, archive=archive, moment=moment
            )
        )

    async def record_rejection(self, rejection: Rejection, keep: int) -> None:
        """Log a refused request, keeping only the newest `keep`."""
        params = msgspec.structs.asdict(rejection)
        await self.connector.write(execute("record_rejection", **params, keep=keep))

    async def set_meta(self, key: str, value: str) -> None:
        await self.connector.write(execute("set_meta", key=key, value=value))

    async def claim(
        self, sink: str, owner: str, now: float, lease: float, limit: int
    ) -> list[DueDelivery]:
        """Lease up to `limit` due deliveries of one sink to `owner`, earliest due first;
        instances claiming at once each take different ones. A paused sink's wait (see
        `take_probe`)."""
        statement = fetch_all(
            "claim",
            owner=owner,
            lease_until=now + lease,
            sink=sink,
            now=now,
            limit=limit,
            probe=False,
        )
        claimed = await self.connector.write(statement, durable=False)
        return [rows.due_delivery(r) for r in sorted(claimed, key=lambda r: r["next_at"])]

    async def finish(self, attempt: AttemptRecord) -> None:
        """Record an attempt and move its delivery to delivered, pending (retry) or dead."""
        params = msgspec.structs.asdict(attempt)
        await self.connector.write(execute("finish", **params), durable=False)

    async def release(self, owner: str) -> None:
        """Give back every lease `owner` holds, and wake the workers to take them."""
        await self.connector.transaction(
            lambda: scripts.wake_if(execute("release_leases", owner=owner))
        )

    async def add_deliveries(
        self, event_id: str, pairs: Pairs, *, replay: bool, now: float
    ) -> list[str]:
        """Add deliveries for a stored event (replay), due at `now`; returns their ids."""
        plan = scripts.delivery_plan([(event_id, pairs)])
        await self.connector.transaction(
            lambda: scripts.add_deliveries(plan, replay=replay, due=now, now=_text(now))
        )
        return [d["id"] for d in msgspec.json.decode(plan)]

    async def add_deliveries_many(
        self, plan: list[tuple[str, Pairs]], *, replay: bool, now: float
    ) -> int:
        """Add deliveries for many stored events in one commit, due at `now`."""
        deliveries = scripts.delivery_plan(plan)
        return await self.connector.transaction(
            lambda: scripts.add_deliveries(deliveries, replay=replay, due=now, now=_text(now))
        )

    async def retry_delivery(self, delivery_id: str, now: float) -> bool:
        """Make a dead (or unleased pending) delivery due at `now`."""
        statement = execute("retry_delivery", id=delivery_id, now=now, at=_text(now))
        return bool(await self.connector.transaction(lambda: scripts.wake_if(statement)))

    async def retry_dead(self, sink: str | None, now: float) -> int:
        """Make every dead delivery (of one sink, if named) due at `now`; returns how many."""
        statement = execute("retry_dead", sink=sink, now=now, at=_text(now))
        again: int = await self.connector.transaction(lambda: scripts.wake_if(statement))
        return again

    async def prune(self, before: str) -> int:
        """Delete raw requests, attempts and events older than `before` (RFC 3339), keeping
        every event whose deliveries are still pending or held, then the tasks left without
        events that are terminal or not polled and were last updated before `before`."""
        return await self.connector.transaction(lambda: scripts.prune(before))

    async def register_task(
        self,
        source: str,
        task_id: str,
        labels: dict[str, str],
        *,
        now: float,
        poll: PollPlan | None,
        facts: UsageFacts | None = None,
    ) -> TaskRecord:
        """Record a task with its labels and, given a plan, poll it unless it already ended.
        `facts` (what the submit request asked for) fill in its events' usage facts where the
        provider reports none."""
        stored = encode_facts(facts)
        return await self.connector.transaction(
            lambda: scripts.register_task(
                source, task_id, labels, now=_text(now), poll=poll, facts=stored
            )
        )

    async def claim_polls(
        self, source: str, now: float, lease: float, limit: int
    ) -> list[TaskRecord]:
        """Take up to `limit` of a source's tasks due for a poll, pushing each one's next poll
        `lease` seconds out so no other poller, here or in another instance, takes it."""
        params = {"source": source, "now": now, "lease_until": now + lease, "limit": limit}
        claimed = await self.connector.write(fetch_all("claim_polls", **params))
        return [rows.task(r) for r in claimed]

    async def take_query_turn(
        self, key: str, now: float, spacing: float, max_wait: float
    ) -> float | None:
        """The pace key's next turn (unix time, never before `now`; the one after it is
        `spacing` later), shared by every instance on the database; None, taking nothing,
        when that turn is more than `max_wait` after `now`."""
        params = {"key": key, "now": now, "spacing": spacing, "max_wait": max_wait}
        row = await self.connector.write(fetch_one("take_query_turn", **params), durable=False)
        return None if row is None else float(row["turn"])

    async def pause_queries(self, key: str, until: float) -> None:
        """Give the pace key no turn before `until` (a provider's 429 Retry-After)."""
        statement = execute("pause_queries", key=key, until=until)
        await self.connector.write(statement, durable=False)

    async def set_poll(
        self,
        source: str,
        task_id: str,
        *,
        next_at: float | None,
        errors: int,
        interval: float | None = None,
    ) -> None:
        """Schedule a task's next poll, or with `next_at=None` stop polling it."""
        key = {"source": source, "task_id": task_id, "errors": errors}
        if next_at is None:
            await self.connector.write(execute("stop_poll", **key))
        else:
            statement = execute("schedule_poll", **key, next_at=next_at, interval=interval)
            await self.connector.write(statement)

    async def release_held(
        self,
        event: Event,
        routes: list[tuple[str, str]] | Routes,
        archive: ArchivePlan | None = None,
    ) -> int:
        """Confirmed: the event as the provider tells it replaces the held one, and `routes`
        (its (rule, sink) pairs, or Routes with group joins) replace the held deliveries, due
        at once (or, with archive jobs, after the plan's wait)."""
        pairs, joins = scripts.split_routes(routes)
        plan = scripts.delivery_plan([(event.id, pairs)])
        moment = self._clock()
        now = _text(moment)
        return await self.connector.transaction(
            lambda: scripts.release_held(
                event, plan, now=now, archive=archive, joins=joins, moment=moment
            )
        )

    async def reject_held(self, event_id: str, note: str, *, now: float) -> bool:
        """Not confirmed: keep the event with `note`, never send its deliveries, and let the
        task's status fall back to its other reports (polling it again from `now`)."""
        return await self.connector.transaction(
            lambda: scripts.reject_held(event_id, note, now=now, at=_text(now))
        )

    async def ping(self) -> None:
        """Raise StoreUnavailable unless the store answers a query."""
        if await self.connector.read(fetch_one("ping")) is None:
            raise StoreUnavailable("the store answered nothing")
