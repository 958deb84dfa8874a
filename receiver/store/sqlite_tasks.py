"""The SQLite store's task methods: registration, polling, and settling events held for
confirmation. Mixed into `SqliteStore`, whose writer and reader connections they use."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import aiosqlite
import msgspec

from vidhook.receiver.event import STATUS_RANK, Event, rfc3339
from vidhook.receiver.store.records import REGISTERED, PollPlan, StoredEvent, TaskRecord
from vidhook.receiver.store.sql import load_queries

__all__ = ["SqliteTaskMethods"]

Q = load_queries("sqlite_tasks.sql")
_encode = msgspec.json.Encoder().encode
_decode_event = msgspec.json.Decoder(Event).decode
_decode_labels = msgspec.json.Decoder(dict[str, str]).decode


def _text(moment: float) -> str:
    return rfc3339(datetime.fromtimestamp(moment, UTC))


class SqliteTaskMethods:
    """Task registration, polling and confirmation on SQLite (see the Store protocol)."""

    _new_deliveries: bool

    async def _write(self, op: Callable[[aiosqlite.Connection], Any]) -> Any:
        raise NotImplementedError  # SqliteStore's group-commit writer

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
        raise NotImplementedError  # SqliteStore's, shared with replays

    async def _read(self, sql: str, params: Any = ()) -> list[Any]:
        raise NotImplementedError  # SqliteStore's reader connection

    async def register_task(
        self,
        source: str,
        task_id: str,
        labels: dict[str, str],
        *,
        now: float,
        poll: PollPlan | None,
    ) -> TaskRecord:
        """Record a task with its labels (merged over any it has) and, given a plan, poll it
        unless it already ended."""

        async def op(conn: aiosqlite.Connection) -> TaskRecord:
            key = {"source": source, "task_id": task_id}
            rows = list(await conn.execute_fetchall(Q["task_row"], key))
            merged = {**_decode_labels(rows[0][3]), **labels} if rows else labels
            params = {
                **key,
                "labels": _encode(merged).decode(),
                "now": _text(now),
                "poll": int(poll is not None),
                "next_at": poll.next_at if poll else None,
                "deadline": poll.deadline if poll else None,
                "interval": poll.interval if poll else None,
            }
            statement = "update_registered_task" if rows else "insert_registered_task"
            await conn.execute(Q[statement], params)
            (row,) = await conn.execute_fetchall(Q["task_row"], key)
            return _task(row)

        task: TaskRecord = await self._write(op)
        return task

    async def get_task(self, source: str, task_id: str) -> TaskRecord | None:
        rows = await self._read(Q["task_row"], {"source": source, "task_id": task_id})
        return _task(rows[0]) if rows else None

    async def list_tasks(
        self, source: str | None, polling: bool | None, limit: int
    ) -> list[TaskRecord]:
        """Tasks, most recently changed first."""
        params = {
            "source": source,
            "polling": None if polling is None else int(polling),
            "limit": limit,
        }
        return [_task(row) for row in await self._read(Q["list_tasks"], params)]

    async def claim_polls(
        self, source: str, now: float, lease: float, limit: int
    ) -> list[TaskRecord]:
        """Take up to `limit` of a source's tasks due for a poll, pushing each one's next poll
        `lease` seconds out so no other poller takes it meanwhile."""

        async def op(conn: aiosqlite.Connection) -> list[TaskRecord]:
            params = {"source": source, "now": now, "lease_until": now + lease, "limit": limit}
            return [_task(row) for row in await conn.execute_fetchall(Q["claim_polls"], params)]

        claimed: list[TaskRecord] = await self._write(op)
        return claimed

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

        async def op(conn: aiosqlite.Connection) -> None:
            params: dict[str, Any] = {"source": source, "task_id": task_id, "errors": errors}
            if next_at is None:
                await conn.execute(Q["stop_poll"], params)
            else:
                params.update(next_at=next_at, interval=interval)
                await conn.execute(Q["schedule_poll"], params)

        await self._write(op)

    async def next_poll_at(self) -> float | None:
        rows = await self._read(Q["next_poll_at"])
        return float(rows[0][0]) if rows and rows[0][0] is not None else None

    async def held_events(self, limit: int) -> list[StoredEvent]:
        """Events waiting for the provider to confirm them, oldest first."""
        return [
            StoredEvent(event=_decode_event(r[0]), stale=bool(r[1]), held=bool(r[2]), note=r[3])
            for r in await self._read(Q["held_events"], {"limit": limit})
        ]

    async def release_held(self, event: Event, pairs: list[tuple[str, str]]) -> int:
        """Confirmed: the event as the provider tells it replaces the held one, and `pairs`
        (its routes) replace the held deliveries, due at once."""

        async def op(conn: aiosqlite.Connection) -> int:
            rows = list(await conn.execute_fetchall(Q["held_event"], {"id": event.id}))
            if not rows:
                return 0
            body = {"id": event.id, "body": _encode(event), "model": event.model}
            await conn.execute(Q["release_event"], body)
            await conn.execute(Q["drop_held_deliveries"], {"id": event.id})
            now = _text(time.time())
            await self._insert_deliveries(conn, event.id, pairs, "pending", replay=False, now=now)
            return len(pairs)

        count: int = await self._write(op)
        return count

    async def reject_held(self, event_id: str, note: str, *, now: float) -> bool:
        """Not confirmed: keep the event with `note`, never send its deliveries, and let the
        task's status fall back to its other reports (polling it again from `now` if it was
        polled)."""

        async def op(conn: aiosqlite.Connection) -> bool:
            rows = list(await conn.execute_fetchall(Q["held_event"], {"id": event_id}))
            if not rows:
                return False
            source, task_id = rows[0][0], rows[0][1]
            await conn.execute(Q["reject_event"], {"id": event_id, "note": note})
            await conn.execute(
                Q["reject_deliveries"], {"id": event_id, "note": note, "now": _text(now)}
            )
            key = {"source": source, "task_id": task_id}
            statuses = [r[0] for r in await conn.execute_fetchall(Q["task_statuses"], key)]
            status, rank = max(
                ((s, STATUS_RANK[s]) for s in statuses if s in STATUS_RANK),
                key=lambda pair: pair[1],
                default=REGISTERED,
            )
            await conn.execute(
                Q["reset_task"],
                {**key, "status": status, "rank": rank, "now": _text(now), "at": now},
            )
            return True

        done: bool = await self._write(op)
        return done


def _task(row: Any) -> TaskRecord:
    return TaskRecord(
        source=row[0],
        task_id=row[1],
        status=row[2],
        labels=_decode_labels(row[3]),
        created_at=row[4],
        updated_at=row[5],
        poll=bool(row[6]),
        poll_next_at=row[7],
        poll_deadline=row[8],
        poll_interval=row[9],
        poll_errors=row[10],
    )
