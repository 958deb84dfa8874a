"""The SQLite store: WAL, synchronous FULL, one writer with group commit."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import aiosqlite
import msgspec

from vidhook.receiver.errors import StoreUnavailable
from vidhook.receiver.event import STATUS_RANK, Event, new_id, rfc3339
from vidhook.receiver.private_files import prepare_sqlite_file
from vidhook.receiver.store.group_commit import GroupCommitWriter
from vidhook.receiver.store.records import (
    AttemptRecord,
    DeliveryRow,
    DueDelivery,
    EventFilter,
    IngestResult,
    RawRequest,
    Rejection,
    Router,
    SinkStats,
    StoredEvent,
)
from vidhook.receiver.store.sql import load_queries, migrations
from vidhook.receiver.store.sqlite_tasks import SqliteTaskMethods

__all__ = ["SqliteStore"]

T = TypeVar("T")
Q = load_queries("sqlite.sql")
_encode = msgspec.json.Encoder().encode
_decode_event = msgspec.json.Decoder(Event).decode
_decode_labels = msgspec.json.Decoder(dict[str, str]).decode
_decode_headers = msgspec.json.Decoder(dict[str, str]).decode


def _now_text() -> str:
    return rfc3339(datetime.now(UTC))


class SqliteStore(SqliteTaskMethods):
    """Store on one SQLite file. Writes go through one group-commit writer connection;
    reads use a second connection, which WAL lets run beside the writer."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.path = url.removeprefix("sqlite://").removeprefix("/") if url != "sqlite://" else ""
        if url.startswith("sqlite:////"):
            self.path = url.removeprefix("sqlite:///")
        self._writer_conn: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._writer: GroupCommitWriter | None = None
        self._new_delivery_callbacks: list[Callable[[], None]] = []
        self._new_deliveries = False

    async def open(self) -> None:
        """Connect, set the pragmas that make commits durable, and migrate."""
        try:
            prepare_sqlite_file(self.path)
            conn = await _connect(self.path or ":memory:")
            for pragma in (
                "journal_mode=WAL",
                "synchronous=FULL",
                "foreign_keys=ON",
                "busy_timeout=10000",
            ):
                await conn.execute(f"PRAGMA {pragma}")
            await _migrate(conn)
            reader = await _connect(self.path or ":memory:")
            await reader.execute("PRAGMA busy_timeout=10000")
        except (sqlite3.Error, OSError) as exc:
            raise StoreUnavailable(f"cannot open SQLite store {self.path!r}: {exc}") from None
        self._writer_conn, self._reader = conn, reader
        self._writer = GroupCommitWriter(conn)
        self._writer.after_commit.append(self._after_commit)
        self._writer.start()

    async def close(self) -> None:
        """Finish queued writes and close both connections."""
        if self._writer is not None:
            await self._writer.stop()
        for conn in (self._writer_conn, self._reader):
            if conn is not None:
                await conn.close()
        self._writer = self._writer_conn = self._reader = None

    async def ping(self) -> None:
        """Raise StoreUnavailable unless the store answers a query."""
        try:
            await self._read("SELECT 1")
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"store does not answer: {exc}") from None

    def on_new_deliveries(self, callback: object) -> None:
        """Call `callback()` after each commit that added deliveries."""
        assert callable(callback)
        self._new_delivery_callbacks.append(callback)

    def _after_commit(self) -> None:
        if self._new_deliveries:
            self._new_deliveries = False
            for callback in self._new_delivery_callbacks:
                callback()

    async def _write(self, op: Callable[[aiosqlite.Connection], Any]) -> Any:
        if self._writer is None:
            raise StoreUnavailable("the store is not open")
        return await self._writer.run(op)

    async def _write_sync(
        self, op: Callable[[sqlite3.Connection], T], *, durable: bool = True
    ) -> T:
        """Run a synchronous write on the writer's thread, batched with its neighbours.

        `durable=False` is for the delivery worker's own records (leases, attempts): a machine
        failure before the next durable commit can lose them, and the delivery is sent again
        under the same webhook-id, which at-least-once allows; they need no disk flush of
        their own."""
        if self._writer is None:
            raise StoreUnavailable("the store is not open")
        return await self._writer.run_sync(op, durable=durable)

    async def _read(self, sql: str, params: Any = ()) -> list[Any]:
        if self._reader is None:
            raise StoreUnavailable("the store is not open")
        return list(await self._reader.execute_fetchall(sql, params))

    async def ingest(
        self, event: Event, raw: RawRequest, route: Router, *, hold: bool = False
    ) -> IngestResult:
        """Store the event, its raw request and its deliveries in one commit.

        The write is synchronous and runs on the writer's thread with the rest of its batch, so
        a callback costs no thread hop of its own; `route` runs there too (it is pure)."""
        return await self._write_sync(lambda conn: self._ingest(conn, event, raw, route, hold))

    def _ingest(
        self, conn: sqlite3.Connection, event: Event, raw: RawRequest, route: Router, hold: bool
    ) -> IngestResult:
        key = {"source": event.source, "task_id": event.task_id, "status": event.status}
        rows = conn.execute(Q["task_state"], key).fetchall()
        labels = {**event.labels, **_decode_labels(rows[0][2])} if rows else event.labels
        final = msgspec.structs.replace(event, labels=labels)
        stale = bool(rows) and rows[0][1] >= STATUS_RANK[event.status]
        params = {
            **key,
            "id": final.id,
            "provider": final.provider,
            "type": final.type,
            "model": final.model,
            "received_at": final.received_at,
            "stale": int(stale),
            "held": int(hold),
            "body": _encode(final),
        }
        if not conn.execute(Q["insert_event"], params).fetchall():
            found = conn.execute(Q["event_by_key"], key).fetchall()
            return IngestResult(
                event=_decode_event(found[0][0]),
                duplicate=True,
                stale=bool(found[0][1]),
                deliveries=0,
            )
        conn.execute(
            Q["insert_raw"],
            {
                "event_id": final.id,
                "method": raw.method,
                "path": raw.path,
                "client": raw.client,
                "headers": _encode(raw.headers),
                "body": raw.body,
            },
        )
        if stale:
            return IngestResult(event=final, duplicate=False, stale=True, deliveries=0)
        now = _now_text()
        conn.execute(Q["upsert_task"], {**key, "rank": STATUS_RANK[final.status], "now": now})
        pairs = route(final)
        state = "held" if hold else "pending"
        _, deliveries = _delivery_rows(final.id, pairs, state, replay=False, now=now, due=0.0)
        conn.executemany(Q["insert_delivery"], deliveries)
        if pairs and not hold:
            self._new_deliveries = True
        return IngestResult(event=final, duplicate=False, stale=False, deliveries=len(pairs))

    async def _insert_deliveries(
        self,
        conn: aiosqlite.Connection,
        event_id: str,
        pairs: Sequence[tuple[str | None, str]],
        state: str,
        *,
        replay: bool,
        now: str,
        due: float = 0.0,
    ) -> list[str]:
        ids, rows = _delivery_rows(event_id, pairs, state, replay=replay, now=now, due=due)
        await conn.executemany(Q["insert_delivery"], rows)
        if ids and state == "pending":
            self._new_deliveries = True
        return ids

    async def record_rejection(self, rejection: Rejection, keep: int) -> None:
        """Log a refused request, keeping only the newest `keep`."""

        async def op(conn: aiosqlite.Connection) -> None:
            await conn.execute(Q["insert_rejection"], msgspec.structs.asdict(rejection))
            await conn.execute(Q["trim_rejections"], {"keep": keep})

        await self._write(op)

    async def get_meta(self, key: str) -> str | None:
        rows = await self._read(Q["get_meta"], {"key": key})
        return str(rows[0][0]) if rows else None

    async def set_meta(self, key: str, value: str) -> None:
        async def op(conn: aiosqlite.Connection) -> None:
            await conn.execute(Q["set_meta"], {"key": key, "value": value})

        await self._write(op)

    async def claim(
        self, sink: str, owner: str, now: float, lease: float, limit: int
    ) -> list[DueDelivery]:
        """Lease up to `limit` due deliveries of one sink to `owner`."""
        params = {"owner": owner, "lease_until": now + lease, "sink": sink, "now": now}
        claimed: list[DueDelivery] = await self._write_sync(
            lambda conn: _claim(conn, {**params, "limit": limit}), durable=False
        )
        return claimed

    async def finish(self, attempt: AttemptRecord) -> None:
        """Record an attempt and move its delivery to delivered, pending (retry) or dead."""
        params = msgspec.structs.asdict(attempt)
        attempt_row = {k: v for k, v in params.items() if k != "next_at"}

        def op(conn: sqlite3.Connection) -> None:
            conn.execute(Q["insert_attempt"], attempt_row)
            conn.execute(Q["finish_delivery"], params)

        await self._write_sync(op, durable=False)

    async def release(self, owner: str) -> None:
        """Give back every lease `owner` holds, so the deliveries are claimed again."""

        async def op(conn: aiosqlite.Connection) -> None:
            await conn.execute(Q["release_leases"], {"owner": owner})

        await self._write(op)

    async def lease_owners(self) -> list[str]:
        """Every worker that holds a lease now, expired or not."""
        return [row[0] for row in await self._read(Q["lease_owners"])]

    async def next_due(self, now: float, sinks: Sequence[str] | None = None) -> float | None:
        """When the next unleased pending delivery (of `sinks`, if given) is due."""
        names = None if sinks is None else json.dumps(list(sinks))
        rows = await self._read(Q["next_due"], {"now": now, "sinks": names})
        return float(rows[0][0]) if rows and rows[0][0] is not None else None

    async def outbox_depth(self) -> tuple[int, float | None]:
        rows = await self._read(Q["outbox_depth"])
        return int(rows[0][0]), rows[0][1]

    async def list_events(self, where: EventFilter, limit: int) -> list[StoredEvent]:
        """Events matching `where`, newest first; `where.before_id` is the cursor."""
        sql, params = _event_query(where, "body, stale, held, note")
        sql += " ORDER BY id DESC LIMIT :limit"
        return [_stored(row) for row in await self._read(sql, {**params, "limit": limit})]

    async def count_events(self, where: EventFilter) -> int:
        """How many events match `where`."""
        sql, params = _event_query(where, "count(*)")
        return int((await self._read(sql, params))[0][0])

    async def get_event(self, event_id: str) -> StoredEvent | None:
        rows = await self._read(Q["get_event"], {"id": event_id})
        return _stored(rows[0]) if rows else None

    async def get_raw(self, event_id: str) -> RawRequest | None:
        rows = await self._read(Q["get_raw"], {"id": event_id})
        if not rows:
            return None
        method, path, client, headers, body = rows[0]
        return RawRequest(
            method=method,
            path=path,
            client=client,
            headers=_decode_headers(headers),
            body=bytes(body),
        )

    async def deliveries_of(self, event_id: str) -> list[DeliveryRow]:
        return [_delivery(r) for r in await self._read(Q["deliveries_of_event"], {"id": event_id})]

    async def attempts_of(self, event_id: str) -> list[AttemptRecord]:
        rows = await self._read(Q["attempts_of_event"], {"id": event_id})
        return [
            AttemptRecord(
                delivery_id=r[0],
                number=r[1],
                at=r[2],
                outcome=r[3],
                latency_ms=r[4],
                status_code=r[5],
                error=r[6],
                response=r[7],
            )
            for r in rows
        ]

    async def list_deliveries(
        self, state: str | None, sink: str | None, before_id: str | None, limit: int
    ) -> list[DeliveryRow]:
        rows = await self._read(
            Q["list_deliveries"],
            {"state": state, "sink": sink, "before_id": before_id, "limit": limit},
        )
        return [_delivery(r) for r in rows]

    async def add_deliveries(
        self, event_id: str, pairs: list[tuple[str | None, str]], *, replay: bool, now: float
    ) -> list[str]:
        """Add deliveries for a stored event (replay), due at once."""

        async def op(conn: aiosqlite.Connection) -> list[str]:
            return await self._insert_deliveries(
                conn, event_id, pairs, "pending", replay=replay, now=_now_text(), due=now
            )

        ids: list[str] = await self._write(op)
        return ids

    async def add_deliveries_many(
        self, plan: list[tuple[str, list[tuple[str | None, str]]]], *, replay: bool, now: float
    ) -> int:
        """Add deliveries for many stored events in one commit, due at once."""

        async def op(conn: aiosqlite.Connection) -> int:
            at = _now_text()
            added = 0
            for event_id, pairs in plan:
                ids = await self._insert_deliveries(
                    conn, event_id, pairs, "pending", replay=replay, now=at, due=now
                )
                added += len(ids)
            return added

        count: int = await self._write(op)
        return count

    async def get_delivery(self, delivery_id: str) -> DeliveryRow | None:
        rows = await self._read(Q["get_delivery"], {"id": delivery_id})
        return _delivery(rows[0]) if rows else None

    async def retry_delivery(self, delivery_id: str, now: float) -> bool:
        async def op(conn: aiosqlite.Connection) -> bool:
            rows = await conn.execute_fetchall(
                Q["retry_delivery"], {"id": delivery_id, "now": now, "at": _now_text()}
            )
            self._new_deliveries = self._new_deliveries or bool(rows)
            return bool(rows)

        done: bool = await self._write(op)
        return done

    async def retry_dead(self, sink: str | None, now: float) -> int:
        async def op(conn: aiosqlite.Connection) -> int:
            cursor = await conn.execute(
                Q["retry_dead"], {"sink": sink, "now": now, "at": _now_text()}
            )
            self._new_deliveries = self._new_deliveries or cursor.rowcount > 0
            return cursor.rowcount

        count: int = await self._write(op)
        return count

    async def sink_stats(self) -> list[SinkStats]:
        return [
            SinkStats(
                sink=r[0],
                pending=r[1] or 0,
                dead=r[2] or 0,
                delivered=r[3] or 0,
                last_success=r[4],
                last_failure=r[5],
                last_error=r[6],
            )
            for r in await self._read(Q["sink_stats"])
        ]

    async def list_rejected(self, limit: int) -> list[Rejection]:
        return [
            Rejection(
                at=r[0],
                source=r[1],
                reason=r[2],
                status=r[3],
                message=r[4],
                client=r[5],
                size=r[6],
                head=bytes(r[7]),
            )
            for r in await self._read(Q["list_rejected"], {"limit": limit})
        ]

    async def prune(self, before: str) -> int:
        """Delete raw requests, attempts and events older than `before` (RFC 3339), keeping
        every event whose deliveries are still pending, then the tasks left without events that
        are terminal or not polled and were last updated before `before`."""

        async def op(conn: aiosqlite.Connection) -> int:
            total = 0
            for name in ("prune_raw", "prune_attempts", "prune_events", "prune_tasks"):
                cursor = await conn.execute(Q[name], {"before": before})
                total += max(cursor.rowcount, 0)
            return total

        pruned: int = await self._write(op)
        return pruned


async def _migrate(conn: aiosqlite.Connection) -> None:
    await conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    rows = list(await conn.execute_fetchall("SELECT max(version) FROM schema_version"))
    current = rows[0][0] or 0
    for version, script in migrations("sqlite"):
        if version > current:
            await conn.executescript(
                f"BEGIN IMMEDIATE;\n{script}\n"
                f"INSERT INTO schema_version VALUES ({version});\nCOMMIT;"
            )


def _claim(conn: sqlite3.Connection, params: dict[str, Any]) -> list[DueDelivery]:
    ids = conn.execute(Q["claim_deliveries"], params).fetchall()
    if not ids:
        return []
    rows = conn.execute(Q["claimed_details"], {"ids": json.dumps([r[0] for r in ids])})
    return [
        DueDelivery(
            id=r[0],
            event_id=r[1],
            sink=r[2],
            webhook_id=r[3],
            attempts=r[4],
            replay=bool(r[5]),
            event=_decode_event(r[6]),
            raw_body=r[7],
        )
        for r in rows.fetchall()
    ]


def _delivery_rows(
    event_id: str,
    pairs: Sequence[tuple[str | None, str]],
    state: str,
    *,
    replay: bool,
    now: str,
    due: float,
) -> tuple[list[str], list[dict[str, Any]]]:
    """New delivery ids for (rule, sink) pairs and the `insert_delivery` parameters."""
    ids = [new_id() for _ in pairs]
    rows = [
        {
            "id": did,
            "event_id": event_id,
            "sink": sink,
            "rule": rule,
            "state": state,
            "replay": int(replay),
            "webhook_id": f"msg_{did.replace('-', '')}",
            "next_at": due,
            "now": now,
        }
        for did, (rule, sink) in zip(ids, pairs, strict=True)
    ]
    return ids, rows


def _stored(row: Any) -> StoredEvent:
    return StoredEvent(
        event=_decode_event(row[0]), stale=bool(row[1]), held=bool(row[2]), note=row[3]
    )


def _delivery(r: Any) -> DeliveryRow:
    return DeliveryRow(
        id=r[0],
        event_id=r[1],
        sink=r[2],
        rule=r[3],
        state=r[4],
        replay=bool(r[5]),
        webhook_id=r[6],
        attempts=r[7],
        next_at=r[8],
        created_at=r[9],
        updated_at=r[10],
        last_error=r[11],
    )


_FILTER_COLUMNS = ("source", "provider", "type", "status", "task_id", "model")


def _event_query(where: EventFilter, columns: str) -> tuple[str, dict[str, Any]]:
    """Build an event query from fixed fragments; values are always parameters."""
    clauses: list[str] = []
    params: dict[str, Any] = {}
    for column in _FILTER_COLUMNS:
        value = getattr(where, column)
        if value is not None:
            clauses.append(f"{column} = :{column}")
            params[column] = value
    if where.since:
        clauses.append("received_at >= :since")
        params["since"] = where.since
    if where.until:
        clauses.append("received_at < :until")
        params["until"] = where.until
    if where.before_id:
        clauses.append("id < :before_id")
        params["before_id"] = where.before_id
    for i, (key, value) in enumerate(sorted(where.labels.items())):
        # json_each rather than a JSON path, so any key works, quotes included.
        clauses.append(
            "EXISTS (SELECT 1 FROM json_each(events.body, '$.labels') l"
            f" WHERE l.key = :label_key{i} AND l.value = :label_value{i})"
        )
        params[f"label_key{i}"] = key
        params[f"label_value{i}"] = value
    if where.sink:
        clauses.append(
            "EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = events.id AND d.sink = :sink)"
        )
        params["sink"] = where.sink
    sql = f"SELECT {columns} FROM events"
    if clauses:
        sql += " WHERE " + " AND ".join(clauses)
    return sql, params


async def _connect(path: str) -> aiosqlite.Connection:
    """An aiosqlite connection in autocommit mode. When opening fails, aiosqlite stops its worker
    thread, which then reports to this event loop: wait for it, or a command that exits right
    after (`vidhook check --connect`) prints a traceback from a loop already closed."""
    connection = aiosqlite.connect(path, isolation_level=None)
    try:
        return await connection
    except sqlite3.Error:
        await asyncio.to_thread(connection._thread.join, 5)  # aiosqlite has no public handle
        raise
