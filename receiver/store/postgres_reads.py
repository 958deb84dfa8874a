"""The PostgreSQL store's pooled connections and its read side: listings, lookups, stats."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import msgspec

from vidhook.receiver.errors import StoreUnavailable
from vidhook.receiver.event import Event
from vidhook.receiver.store.pg_sql import load_pg_queries, pg_labels
from vidhook.receiver.store.records import (
    AttemptRecord,
    DeliveryRow,
    EventFilter,
    RawRequest,
    Rejection,
    SinkStats,
    StoredEvent,
)

__all__ = ["UNAVAILABLE", "PostgresReads", "Q"]

Q = load_pg_queries("postgres.sql")
_decode_event = msgspec.json.Decoder(Event).decode
_decode_headers = msgspec.json.Decoder(dict[str, str]).decode

# Errors that mean "the database cannot be reached or cannot commit", answered with 503.
UNAVAILABLE = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InsufficientResourcesError,
    asyncpg.exceptions.ReadOnlySQLTransactionError,
)


class PostgresReads:
    """Connections from the pool, and every query that only reads."""

    _pool: Any = None

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[Any]:
        """A pooled connection; losing the database on the way surfaces as StoreUnavailable."""
        if self._pool is None:
            raise StoreUnavailable("the store is not open")
        try:
            async with self._pool.acquire(timeout=10) as conn:
                try:
                    yield conn
                except Exception as exc:
                    # A connection cut while idle in the pool fails in odd ways; the pool
                    # replaces it, and this caller gets a 503 to retry.
                    if conn.is_closed() and not isinstance(exc, UNAVAILABLE):
                        raise StoreUnavailable(
                            f"lost the connection to PostgreSQL: {exc}"
                        ) from None
                    raise
        except UNAVAILABLE as exc:
            raise StoreUnavailable(f"the PostgreSQL store does not answer: {exc}") from None

    async def _fetch(self, name: str, **params: Any) -> list[Any]:
        """Run one named query on a pooled connection (asyncpg prepares and caches it)."""
        query = Q[name]
        async with self._connection() as conn:
            return list(await conn.fetch(query.sql, *query.args(params)))

    async def ping(self) -> None:
        """Raise StoreUnavailable unless the database answers a query."""
        async with self._connection() as conn:
            await conn.fetchval("SELECT 1")

    async def get_meta(self, key: str) -> str | None:
        rows = await self._fetch("get_meta", key=key)
        return str(rows[0]["value"]) if rows else None

    async def lease_owners(self) -> list[str]:
        """Every worker that holds a lease now, expired or not."""
        return [row[0] for row in await self._fetch("lease_owners")]

    async def next_due(self, now: float, sinks: Sequence[str] | None = None) -> float | None:
        """When the next unleased pending delivery (of `sinks`, if given) is due."""
        rows = await self._fetch("next_due", now=now, sinks=None if sinks is None else list(sinks))
        return float(rows[0][0]) if rows and rows[0][0] is not None else None

    async def outbox_depth(self) -> tuple[int, float | None]:
        rows = await self._fetch("outbox_depth")
        return int(rows[0][0]), rows[0][1]

    async def list_events(self, where: EventFilter, limit: int) -> list[StoredEvent]:
        """Events matching `where`, newest first; `where.before_id` is the cursor."""
        rows = await self._fetch("list_events", **_filter_params(where), limit=limit)
        return [_stored(row) for row in rows]

    async def count_events(self, where: EventFilter) -> int:
        """How many events match `where`."""
        rows = await self._fetch("count_events", **_filter_params(where))
        return int(rows[0][0])

    async def get_event(self, event_id: str) -> StoredEvent | None:
        rows = await self._fetch("get_event", id=event_id)
        return _stored(rows[0]) if rows else None

    async def get_raw(self, event_id: str) -> RawRequest | None:
        rows = await self._fetch("get_raw", id=event_id)
        if not rows:
            return None
        row = rows[0]
        return RawRequest(
            method=row["method"],
            path=row["path"],
            client=row["client"],
            headers=_decode_headers(row["headers"]),
            body=row["body"],
        )

    async def deliveries_of(self, event_id: str) -> list[DeliveryRow]:
        return [DeliveryRow(**r) for r in await self._fetch("deliveries_of_event", id=event_id)]

    async def get_delivery(self, delivery_id: str) -> DeliveryRow | None:
        rows = await self._fetch("get_delivery", id=delivery_id)
        return DeliveryRow(**rows[0]) if rows else None

    async def attempts_of(self, event_id: str) -> list[AttemptRecord]:
        return [AttemptRecord(**r) for r in await self._fetch("attempts_of_event", id=event_id)]

    async def list_deliveries(
        self, state: str | None, sink: str | None, before_id: str | None, limit: int
    ) -> list[DeliveryRow]:
        rows = await self._fetch(
            "list_deliveries", state=state, sink=sink, before_id=before_id, limit=limit
        )
        return [DeliveryRow(**r) for r in rows]

    async def sink_stats(self) -> list[SinkStats]:
        return [SinkStats(**r) for r in await self._fetch("sink_stats")]

    async def list_rejected(self, limit: int) -> list[Rejection]:
        return [Rejection(**r) for r in await self._fetch("list_rejected", limit=limit)]


def _filter_params(where: EventFilter) -> dict[str, Any]:
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
        "sink": where.sink,
        "labels": pg_labels(where.labels),
    }


def _stored(row: Any) -> StoredEvent:
    return StoredEvent(
        event=_decode_event(row["body"]), stale=row["stale"], held=row["held"], note=row["note"]
    )
