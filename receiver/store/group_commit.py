"""One writer task that commits many callers' writes together (group commit)."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import aiosqlite
import structlog

from receiver.errors import StoreUnavailable

__all__ = ["GroupCommitWriter"]

T = TypeVar("T")
Op = Callable[[aiosqlite.Connection], Awaitable[Any]]
log = structlog.get_logger("vidhook.store")


class GroupCommitWriter:
    """Runs write operations on one connection, many per transaction.

    Callers await `run(op)`; the writer takes every operation queued at that moment (up to
    `max_batch`), runs them in one `BEGIN IMMEDIATE ... COMMIT`, and answers each caller only
    after the commit. If an operation fails, the batch is rolled back and each operation is
    retried alone, so one bad write cannot fail its neighbours.
    """

    def __init__(self, conn: aiosqlite.Connection, max_batch: int = 256) -> None:
        self._conn = conn
        self._queue: asyncio.Queue[tuple[Op, asyncio.Future[Any]]] = asyncio.Queue()
        self._max_batch = max_batch
        self._task: asyncio.Task[None] | None = None
        self.after_commit: list[Callable[[], None]] = []

    def start(self) -> None:
        """Start the writer task."""
        self._task = asyncio.create_task(self._loop(), name="vidhook-sqlite-writer")

    async def stop(self) -> None:
        """Finish queued writes and stop."""
        if self._task is None:
            return
        await self._queue.join()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def run(self, op: Callable[[aiosqlite.Connection], Awaitable[T]]) -> T:
        """Run one write operation and return its result once it is committed."""
        if self._task is None or self._task.done():
            raise StoreUnavailable("the store is closed")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((op, future))
        return await future

    async def _loop(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._commit_batch(batch)
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _commit_batch(self, batch: list[tuple[Op, asyncio.Future[Any]]]) -> None:
        try:
            results = await self._transaction([op for op, _ in batch])
        except sqlite3.Error as exc:
            await self._rollback()
            if len(batch) == 1 or _is_unavailable(exc):
                _fail(batch, exc)
                return
            for item in batch:
                await self._commit_batch([item])
            return
        except Exception as exc:  # an operation's own error: retry each alone
            await self._rollback()
            if len(batch) == 1:
                _fail(batch, exc)
                return
            for item in batch:
                await self._commit_batch([item])
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)
        for callback in self.after_commit:
            callback()

    async def _transaction(self, ops: list[Op]) -> list[Any]:
        await self._conn.execute("BEGIN IMMEDIATE")
        results = [await op(self._conn) for op in ops]
        await self._conn.commit()
        return results

    async def _rollback(self) -> None:
        try:
            await self._conn.rollback()
        except sqlite3.Error as exc:
            log.warning("rollback failed", error=str(exc))


def _is_unavailable(exc: sqlite3.Error) -> bool:
    text = str(exc).lower()
    return any(word in text for word in ("disk", "readonly", "read-only", "locked", "i/o", "full"))


def _fail(batch: list[tuple[Op, asyncio.Future[Any]]], exc: Exception) -> None:
    error: Exception = exc
    if isinstance(exc, sqlite3.Error):
        log.error("store write failed", error=str(exc))
        error = StoreUnavailable(f"the store cannot commit: {exc}")
    for _, future in batch:
        if not future.done():
            future.set_exception(error)
