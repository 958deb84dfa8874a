"""The PostgreSQL store's task methods: registration, polling, and settling events held for
confirmation. Several instances may do each at once: polls are claimed with SKIP LOCKED, and
anything that changes a task's status locks the task row first, in the same order as ingest."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import msgspec

from vidhook.receiver.event import STATUS_RANK, Event, new_id, rfc3339
from vidhook.receiver.store.pg_listen import CHANNEL
from vidhook.receiver.store.pg_sql import PgQuery, load_pg_queries
from vidhook.receiver.store.postgres_reads import PostgresReads
from vidhook.receiver.store.records import REGISTERED, PollPlan, StoredEvent, TaskRecord

__all__ = ["PostgresTaskMethods"]

Q = load_pg_queries("postgres_tasks.sql")
_encode = msgspec.json.Encoder().encode
_decode_event = msgspec.json.Decoder(Event).decode
_decode_labels = msgspec.json.Decoder(dict[str, str]).decode


def _text(moment: float) -> str:
    return rfc3339(datetime.fromtimestamp(moment, UTC))


async def _row(conn: Any, query: PgQuery, **params: Any) -> Any:
    return await conn.fetchrow(query.sql, *query.args(params))


class PostgresTaskMethods(PostgresReads):
    """Task registration, polling and confirmation on PostgreSQL (see the Store protocol)."""

    _origin: str

    def _wake(self) -> None:
        raise NotImplementedError  # PostgresStore calls its workers' callbacks

    async def _run(self, query: PgQuery, **params: Any) -> list[Any]:
        async with self._connection() as conn:
            return list(await conn.fetch(query.sql, *query.args(params)))

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
        params = {
            "source": source,
            "task_id": task_id,
            "now": _text(now),
            "poll": poll is not None,
            "next_at": poll.next_at if poll else None,
            "deadline": poll.deadline if poll else None,
            "interval": poll.interval if poll else None,
        }
        async with self._connection() as conn, conn.transaction():
            row = await _row(conn, Q["insert_registered_task"], **params, labels=_encode(labels))
            if row is None:  # known already: merge the labels under the row's lock
                known = await _row(conn, Q["lock_task"], source=source, task_id=task_id)
                merged = _encode({**_decode_labels(known["labels"]), **labels})
                row = await _row(conn, Q["update_registered_task"], **params, labels=merged)
        return _task(row)

    async def get_task(self, source: str, task_id: str) -> TaskRecord | None:
        rows = await self._run(Q["task_row"], source=source, task_id=task_id)
        return _task(rows[0]) if rows else None

    async def list_tasks(
        self, source: str | None, polling: bool | None, limit: int
    ) -> list[TaskRecord]:
        """Tasks, most recently changed first."""
        rows = await self._run(Q["list_tasks"], source=source, polling=polling, limit=limit)
        return [_task(row) for row in rows]

    async def claim_polls(
        self, source: str, now: float, lease: float, limit: int
    ) -> list[TaskRecord]:
        """Take up to `limit` of a source's tasks due for a poll, pushing each one's next poll
        `lease` seconds out so no other poller, in this instance or another, takes it meanwhile."""
        rows = await self._run(
            Q["claim_polls"], source=source, now=now, lease_until=now + lease, limit=limit
        )
        return [_task(row) for row in rows]

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
            await self._run(Q["stop_poll"], **key)
        else:
            await self._run(Q["schedule_poll"], **key, next_at=next_at, interval=interval)

    async def next_poll_at(self) -> float | None:
        rows = await self._run(Q["next_poll_at"])
        return float(rows[0][0]) if rows and rows[0][0] is not None else None

    async def held_events(self, limit: int) -> list[StoredEvent]:
        """Events waiting for the provider to confirm them, oldest first."""
        return [
            StoredEvent(
                event=_decode_event(r["body"]), stale=r["stale"], held=r["held"], note=r["note"]
            )
            for r in await self._run(Q["held_events"], limit=limit)
        ]

    async def release_held(self, event: Event, pairs: list[tuple[str, str]]) -> int:
        """Confirmed: the event as the provider tells it replaces the held one, and `pairs`
        (its routes) replace the held deliveries, due at once."""
        ids = [new_id() for _ in pairs]
        async with self._connection() as conn, conn.transaction():
            held = await _row(conn, Q["lock_held_event"], id=event.id)
            if held is None:
                return 0
            done = await _row(
                conn, Q["release_held"], id=event.id, body=_encode(event), model=event.model,
                ids=ids, sinks=[sink for _, sink in pairs], rules=[rule for rule, _ in pairs],
                webhook_ids=[f"msg_{did.replace('-', '')}" for did in ids],
                now=_text(time.time()), channel=CHANNEL, origin=self._origin,
            )  # fmt: skip
        if done["woke"]:
            self._wake()
        return int(done["released"])

    async def reject_held(self, event_id: str, note: str, *, now: float) -> bool:
        """Not confirmed: keep the event with `note`, never send its deliveries, and let the
        task's status fall back to its other reports (polling it again from `now` if it was
        polled)."""
        async with self._connection() as conn:
            held = await _row(conn, Q["held_event"], id=event_id)
            if held is None:
                return False
            key = {"source": held["source"], "task_id": held["task_id"]}
            async with conn.transaction():
                await _row(conn, Q["lock_task"], **key)  # task before event, as ingest does
                if await _row(conn, Q["lock_held_event"], id=event_id) is None:
                    return False  # settled meanwhile by another instance
                await _row(conn, Q["reject_held"], id=event_id, note=note, now=_text(now))
                statuses = [r[0] for r in await conn.fetch(*_args(Q["task_statuses"], key))]
                status, rank = max(
                    ((s, STATUS_RANK[s]) for s in statuses if s in STATUS_RANK),
                    key=lambda pair: pair[1],
                    default=REGISTERED,
                )
                await _row(
                    conn, Q["reset_task"], **key, status=status, rank=rank, now=_text(now), at=now
                )
        return True


def _args(query: PgQuery, params: dict[str, Any]) -> list[Any]:
    return [query.sql, *query.args(params)]


def _task(row: Any) -> TaskRecord:
    return TaskRecord(**{**row, "labels": _decode_labels(row["labels"])})
