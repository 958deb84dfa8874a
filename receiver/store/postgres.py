"""The PostgreSQL store: several vidhook instances sharing one database.

Each ingest is one transaction on a pooled connection; the task row's lock makes instances that
receive the same task take turns, so dedupe and "never backwards" hold across instances.
Deliveries are claimed with `FOR UPDATE SKIP LOCKED` under leases that expire when an instance
dies, and commits that add deliveries `NOTIFY` the other instances' workers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg
import msgspec

from vidhook.receiver.errors import StoreUnavailable
from vidhook.receiver.event import STATUS_RANK, Event, new_id, rfc3339
from vidhook.receiver.store.pg_listen import CHANNEL, DeliveryListener
from vidhook.receiver.store.pg_schema import migrate, parse_target
from vidhook.receiver.store.pg_sql import pg_labels
from vidhook.receiver.store.postgres_reads import UNAVAILABLE, Q
from vidhook.receiver.store.postgres_tasks import PostgresTaskMethods
from vidhook.receiver.store.records import (
    AttemptRecord,
    DueDelivery,
    IngestResult,
    RawRequest,
    Rejection,
    Router,
)

__all__ = ["PostgresStore"]

_encode = msgspec.json.Encoder().encode
_decode_event = msgspec.json.Decoder(Event).decode
_decode_labels = msgspec.json.Decoder(dict[str, str]).decode


def _now_text() -> str:
    return rfc3339(datetime.now(UTC))


class PostgresStore(PostgresTaskMethods):
    """Store on a PostgreSQL database, through an asyncpg pool and one LISTEN connection.

    `url` is the address without its password, for logs; `pool_max`/`pool_min` in the URL's
    query size the pool (default 1..10), every other query option goes to the driver.
    """

    def __init__(self, url: str) -> None:
        self._target = parse_target(url)
        self.url = self._target.display
        self._pool: Any = None
        self._listener: DeliveryListener | None = None
        self._callbacks: list[Callable[[], None]] = []
        # Carried by this instance's notifications, so its listener can skip its own.
        self._origin = new_id()

    async def open(self) -> None:
        """Open the pool, apply pending migrations, and start listening for new deliveries."""
        try:
            # Migrations hold a session-level lock, so they get a connection of their own.
            conn = await asyncpg.connect(self._target.dsn, timeout=10)
            try:
                await migrate(conn)
            finally:
                await conn.close()
            self._pool = await asyncpg.create_pool(
                self._target.dsn,
                min_size=self._target.pool_min,
                max_size=self._target.pool_max,
                command_timeout=60,
                timeout=10,
                reset=_keep_session,
            )
            self._listener = DeliveryListener(self._target.dsn, self._origin, self._wake)
            await self._listener.start()
        except (*UNAVAILABLE, asyncpg.PostgresError, ValueError) as exc:  # ValueError: bad option
            await self.close()
            raise StoreUnavailable(f"cannot open PostgreSQL store {self.url}: {exc}") from None

    async def close(self) -> None:
        """Stop listening and close every connection."""
        if self._listener is not None:
            await self._listener.stop()
            self._listener = None
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    def on_new_deliveries(self, callback: object) -> None:
        """Call `callback()` when this or any other instance commits new pending deliveries."""
        assert callable(callback)
        self._callbacks.append(callback)

    def _wake(self) -> None:
        for callback in self._callbacks:
            callback()

    async def _notifying(self, name: str, **params: Any) -> list[Any]:
        """Run a query that may `NOTIFY` other instances; wake local workers if it did."""
        rows = await self._fetch(name, channel=CHANNEL, origin=self._origin, **params)
        if rows and rows[0]["woke"]:
            self._wake()
        return rows

    async def ingest(
        self, event: Event, raw: RawRequest, route: Router, *, hold: bool = False
    ) -> IngestResult:
        """Store the event, its raw request and its deliveries in one transaction."""
        key = {"source": event.source, "task_id": event.task_id, "status": event.status}
        async with self._connection() as conn, conn.transaction():
            known = await _task_state(conn, key, STATUS_RANK[event.status])
            if isinstance(known, IngestResult):
                return known
            labels, stale = known
            final = msgspec.structs.replace(event, labels={**event.labels, **labels})
            pairs = [] if stale else route(final)
            params = self._event_params(final, raw, pairs, stale=stale, hold=hold)
            added = await _fetchrow(conn, "insert_event", **key, **params)
            if added["id"] is None:  # a task row behind its events, never in normal operation
                found = await _fetchrow(conn, "event_by_key", **key)
                return _duplicate(found["body"], found["stale"])
        if added["woke"]:
            self._wake()
        return IngestResult(event=final, duplicate=False, stale=stale, deliveries=len(pairs))

    def _event_params(
        self,
        event: Event,
        raw: RawRequest,
        pairs: list[tuple[str, str]],
        *,
        stale: bool,
        hold: bool,
    ) -> dict[str, Any]:
        """The `insert_event` parameters beyond the (source, task_id, status) key."""
        ids = [new_id() for _ in pairs]
        return {
            "id": event.id,
            "provider": event.provider,
            "type": event.type,
            "model": event.model,
            "received_at": event.received_at,
            "stale": stale,
            "held": hold,
            "labels": pg_labels(event.labels),
            "body": _encode(event),
            "method": raw.method,
            "path": raw.path,
            "client": raw.client,
            "headers": _encode(raw.headers),
            "raw_body": raw.body,
            "state": "held" if hold else "pending",
            "now": _now_text(),
            "ids": ids,
            "sinks": [sink for _, sink in pairs],
            "rules": [rule for rule, _ in pairs],
            "webhook_ids": [_webhook_id(did) for did in ids],
            "channel": CHANNEL,
            "origin": self._origin,
            "notify": bool(pairs) and not hold,
        }

    async def add_deliveries(
        self, event_id: str, pairs: list[tuple[str | None, str]], *, replay: bool, now: float
    ) -> list[str]:
        """Add deliveries for a stored event (replay), due at once."""
        ids = [new_id() for _ in pairs]
        await self._add(ids, [event_id] * len(ids), pairs, replay=replay, due=now)
        return ids

    async def add_deliveries_many(
        self, plan: list[tuple[str, list[tuple[str | None, str]]]], *, replay: bool, now: float
    ) -> int:
        """Add deliveries for many stored events in one commit, due at once."""
        flat = [(event_id, pair) for event_id, pairs in plan for pair in pairs]
        ids = [new_id() for _ in flat]
        event_ids = [event_id for event_id, _ in flat]
        return await self._add(ids, event_ids, [pair for _, pair in flat], replay=replay, due=now)

    async def _add(
        self,
        ids: list[str],
        event_ids: list[str],
        pairs: Sequence[tuple[str | None, str]],
        *,
        replay: bool,
        due: float,
    ) -> int:
        if not ids:
            return 0
        rows = await self._notifying(
            "add_deliveries",
            ids=ids,
            event_ids=event_ids,
            sinks=[sink for _, sink in pairs],
            rules=[rule for rule, _ in pairs],
            webhook_ids=[_webhook_id(did) for did in ids],
            replay=replay,
            due=due,
            now=_now_text(),
        )
        return int(rows[0]["added"])

    async def claim(
        self, sink: str, owner: str, now: float, lease: float, limit: int
    ) -> list[DueDelivery]:
        """Lease up to `limit` due deliveries of one sink to `owner`, skipping rows that other
        instances are claiming at this moment."""
        rows = await self._fetch(
            "claim", owner=owner, lease_until=now + lease, sink=sink, now=now, limit=limit
        )
        return [
            DueDelivery(
                id=r["id"],
                event_id=r["event_id"],
                sink=r["sink"],
                webhook_id=r["webhook_id"],
                attempts=r["attempts"],
                replay=r["replay"],
                event=_decode_event(r["event"]),
                raw_body=r["raw_body"],
            )
            for r in rows
        ]

    async def finish(self, attempt: AttemptRecord) -> None:
        """Record an attempt and move its delivery to delivered, pending (retry) or dead."""
        await self._fetch("finish", **msgspec.structs.asdict(attempt))

    async def release(self, owner: str) -> None:
        """Give back every lease `owner` holds, and wake the other instances to take them."""
        await self._fetch("release_leases", owner=owner, channel=CHANNEL, origin=self._origin)

    async def retry_delivery(self, delivery_id: str, now: float) -> bool:
        """Make a dead (or idle pending) delivery due now."""
        rows = await self._notifying("retry_delivery", id=delivery_id, now=now, at=_now_text())
        return bool(rows[0]["again"])

    async def retry_dead(self, sink: str | None, now: float) -> int:
        """Make every dead delivery (of one sink, if named) due now; return how many."""
        rows = await self._notifying("retry_dead", sink=sink, now=now, at=_now_text())
        return int(rows[0]["again"])

    async def set_meta(self, key: str, value: str) -> None:
        await self._fetch("set_meta", key=key, value=value)

    async def record_rejection(self, rejection: Rejection, keep: int) -> None:
        """Log a refused request, keeping only the newest `keep`."""
        await self._fetch("record_rejection", **msgspec.structs.asdict(rejection), keep=keep)

    async def prune(self, before: str) -> int:
        """Delete raw requests, attempts and events older than `before` (RFC 3339), keeping
        every event whose deliveries are still pending, then the tasks left without events that
        are terminal or not polled and were last updated before `before`."""
        total = 0
        async with self._connection() as conn, conn.transaction():
            for name in ("prune_raw", "prune_attempts", "prune_events", "prune_tasks"):
                status = await conn.execute(Q[name].sql, *Q[name].args({"before": before}))
                total += int(status.rsplit(" ", 1)[-1])
        return total


async def _keep_session(conn: Any) -> None:
    """Nothing to reset when a connection goes back to the pool: the store never changes a
    pooled session's settings, locks or LISTENs, and asyncpg rolls back any open transaction.
    Skipping the default reset query saves a round trip on every operation."""


async def _task_state(
    conn: Any, key: dict[str, str], rank: int
) -> tuple[dict[str, str], bool] | IngestResult:
    """Lock the task row (creating it if new), moving it forward if `rank` is ahead; return its
    labels and whether the event is stale, or the duplicate result if the key is stored."""
    moved = await _fetchrow(conn, "advance_task", **key, rank=rank, now=_now_text())
    if moved is not None:
        return _decode_labels(moved["labels"]), False
    known = await _fetchrow(conn, "task_and_event", **key)  # the row is ours now: read it
    if known["body"] is not None:
        return _duplicate(known["body"], known["stale"])
    return _decode_labels(known["labels"]), True


async def _fetchrow(conn: Any, name: str, **params: Any) -> Any:
    query = Q[name]
    return await conn.fetchrow(query.sql, *query.args(params))


def _duplicate(body: bytes, stale: bool) -> IngestResult:
    return IngestResult(event=_decode_event(body), duplicate=True, stale=stale, deliveries=0)


def _webhook_id(delivery_id: str) -> str:
    return f"msg_{delivery_id.replace('-', '')}"
