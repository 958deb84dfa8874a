"""One writer thread that commits many callers' writes together (group commit)."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import aiosqlite
import structlog

from vidhook.receiver.errors import StoreUnavailable

__all__ = ["GroupCommitWriter", "on_connection_thread"]

T = TypeVar("T")
Op = Callable[[sqlite3.Connection], Any]
log = structlog.get_logger("vidhook.store")


@dataclass(frozen=True, slots=True)
class _Queued:
    """One caller's write: a synchronous operation on the writer's connection."""

    future: asyncio.Future[Any]
    op: Op
    durable: bool = True


async def on_connection_thread(
    db: aiosqlite.Connection, fn: Callable[[sqlite3.Connection], T]
) -> T:
    """Run `fn(sqlite3 connection)` on the thread aiosqlite keeps for `db`, in one hop.

    aiosqlite has no public call for this: a group commit's whole batch must run in one hop,
    not one per statement. `_execute` (queue a call on the connection's thread) and `_conn`
    (its sqlite3 connection) are what aiosqlite's own methods use; tests/test_group_commit.py
    fails if a release changes them.
    """
    result: T = await db._execute(fn, db._conn)  # type: ignore[no-untyped-call]
    return result


class GroupCommitWriter:
    """Runs write operations on one connection and one thread, many per transaction.

    Callers await `run(op)`; the writer lets the event loop run while its rounds still queue
    writes, then takes every operation queued (up to `max_batch`) and runs them on its thread
    in one `BEGIN IMMEDIATE ... COMMIT`, in one hop, answering each caller only after the
    commit. If an operation fails, the batch is rolled back and each operation is retried
    alone, so one bad write cannot fail its neighbours.

    An operation run with `durable=False` (the delivery worker's leases and attempt records)
    may be lost if the machine itself fails before the next durable commit, which flushes it
    too; a batch of only such operations commits without waiting for the disk (WAL with
    `synchronous=NORMAL`). It survives the process being killed either way.
    """

    name = "sqlite-writer"

    def __init__(self, db: aiosqlite.Connection | None = None, max_batch: int = 256) -> None:
        self.db = db  # set by the connector once it has opened the file
        self._queue: asyncio.Queue[_Queued] = asyncio.Queue()
        self._max_batch = max_batch
        self._task: asyncio.Task[None] | None = None
        self._synchronous = ""  # the connection's current PRAGMA synchronous, once set here
        self.after_commit: list[Callable[[], None]] = []

    @property
    def running(self) -> bool:
        """Whether the writer takes writes."""
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Start the writer task (a supervisor's base loop: see `Supervisor`)."""
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

    def wake(self) -> None:
        """Nothing to do: the writer runs whenever a write is queued."""

    async def run(self, op: Callable[[sqlite3.Connection], T], *, durable: bool = True) -> T:
        """Run one write operation on the writer's thread (it must not touch the event loop)
        and return its result once it is committed (`durable=False`: see the class)."""
        if not self.running:
            raise StoreUnavailable("the store is closed")
        item = _Queued(asyncio.get_running_loop().create_future(), op, durable)
        self._queue.put_nowait(item)
        result: T = await item.future
        return result

    async def on_thread(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn(connection)` on the writer's thread, outside any batch."""
        if self.db is None:
            raise StoreUnavailable("the store is not open")
        return await on_connection_thread(self.db, fn)

    async def _loop(self) -> None:
        while True:
            batch = [await self._queue.get()]
            await self._gather()
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._commit_batch(batch)
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _gather(self) -> None:
        """Let the event loop run while each of its rounds still queues writes, so that the
        callbacks it is reading join this batch instead of waiting for the next one: every
        commit costs a WAL flush, and while it flushes a loop with nothing left to read idles.
        Stops at the first round that queues nothing (one round's wait when writes come
        alone) or when the batch is full."""
        queued = self._queue.qsize()
        while queued + 1 < self._max_batch:
            await asyncio.sleep(0)
            if self._queue.qsize() == queued:
                return
            queued = self._queue.qsize()

    async def _commit_batch(self, batch: list[_Queued]) -> None:
        mode = "FULL" if any(item.durable for item in batch) else "NORMAL"
        try:
            results = await self.on_thread(lambda conn: self._transaction(conn, batch, mode))
        except Exception as exc:
            unavailable = isinstance(exc, sqlite3.Error) and _is_unavailable(exc)
            if len(batch) == 1 or unavailable:
                _fail(batch, exc)
                return
            for item in batch:  # an operation's own error: retry each alone
                await self._commit_batch([item])
            return
        for item, result in zip(batch, results, strict=True):
            if not item.future.done():
                item.future.set_result(result)
        for callback in self.after_commit:
            try:
                callback()
            except Exception as exc:  # a caller's hook must not stop the writer
                log.error("after-commit callback failed", error=str(exc))

    def _transaction(self, conn: sqlite3.Connection, batch: list[_Queued], mode: str) -> list[Any]:
        """BEGIN, every operation, COMMIT, on the writer's thread; rolled back on any error."""
        if (
            mode != self._synchronous
        ):  # how the commit waits for the disk; set outside a transaction
            conn.execute(f"PRAGMA synchronous={mode}")
            self._synchronous = mode
        try:
            conn.execute("BEGIN IMMEDIATE")
            results = [item.op(conn) for item in batch]
            conn.commit()
        except BaseException:
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.rollback()
            raise
        return results


def _is_unavailable(exc: sqlite3.Error) -> bool:
    text = str(exc).lower()
    return any(word in text for word in ("disk", "readonly", "read-only", "locked", "i/o", "full"))


def _fail(batch: list[_Queued], exc: Exception) -> None:
    error: Exception = exc
    if isinstance(exc, sqlite3.Error):
        log.error("store write failed", error=str(exc))
        error = StoreUnavailable(f"the store cannot commit: {exc}")
    for item in batch:
        if not item.future.done():
            item.future.set_exception(error)
