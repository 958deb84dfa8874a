"""One writer task that commits many callers' writes together (group commit)."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import aiosqlite
import structlog

from vidhook.receiver.errors import StoreUnavailable

__all__ = ["GroupCommitWriter"]

T = TypeVar("T")
Op = Callable[[aiosqlite.Connection], Awaitable[Any]]
SyncOp = Callable[[sqlite3.Connection], Any]
log = structlog.get_logger("vidhook.store")


@dataclass(frozen=True, slots=True)
class _Queued:
    """One caller's write: an async operation on the aiosqlite connection (`op`), or a
    synchronous one that runs on the connection's own thread (`sync_op`)."""

    future: asyncio.Future[Any]
    op: Op | None = None
    sync_op: SyncOp | None = None
    durable: bool = True


class GroupCommitWriter:
    """Runs write operations on one connection, many per transaction.

    Callers await `run(op)` or `run_sync(op)`; the writer takes every operation queued at that
    moment (up to `max_batch`), runs them in one `BEGIN IMMEDIATE ... COMMIT`, and answers each
    caller only after the commit. If an operation fails, the batch is rolled back and each
    operation is retried alone, so one bad write cannot fail its neighbours.

    A batch of synchronous operations runs whole on the connection's thread, BEGIN to COMMIT:
    one thread hop a batch instead of one per statement, which is what bounds ingest.

    An operation run with `durable=False` (the delivery worker's leases and attempt records)
    may be lost if the machine itself fails before the next durable commit, which flushes it
    too; a batch of only such operations commits without waiting for the disk (WAL with
    `synchronous=NORMAL`). It survives the process being killed either way.
    """

    def __init__(self, conn: aiosqlite.Connection, max_batch: int = 256) -> None:
        self._conn = conn
        self._queue: asyncio.Queue[_Queued] = asyncio.Queue()
        self._max_batch = max_batch
        self._task: asyncio.Task[None] | None = None
        self._synchronous = ""  # the connection's current PRAGMA synchronous, once set here
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
        result: T = await self._enqueue(_Queued(self._future(), op=op))
        return result

    async def run_sync(self, op: Callable[[sqlite3.Connection], T], *, durable: bool = True) -> T:
        """Run one synchronous write operation on the connection's thread (it must not touch
        the event loop) and return its result once it is committed (`durable=False`: see the
        class)."""
        result: T = await self._enqueue(_Queued(self._future(), sync_op=op, durable=durable))
        return result

    def _future(self) -> asyncio.Future[Any]:
        if self._task is None or self._task.done():
            raise StoreUnavailable("the store is closed")
        return asyncio.get_running_loop().create_future()

    async def _enqueue(self, item: _Queued) -> Any:
        self._queue.put_nowait(item)
        return await item.future

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

    async def _commit_batch(self, batch: list[_Queued]) -> None:
        try:
            results = await self._transaction(batch)
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
        for item, result in zip(batch, results, strict=True):
            if not item.future.done():
                item.future.set_result(result)
        for callback in self.after_commit:
            callback()

    async def _transaction(self, batch: list[_Queued]) -> list[Any]:
        sync_ops = [item.sync_op for item in batch if item.sync_op is not None]
        mode = "FULL" if any(item.durable for item in batch) else "NORMAL"
        if len(sync_ops) == len(batch):

            def whole(conn: sqlite3.Connection) -> list[Any]:
                self._set_synchronous(conn, mode)
                return _sync_transaction(conn, sync_ops)

            return await self._on_thread(whole)

        # A mixed batch: BEGIN and every synchronous operation in one hop, then the others.
        # The callers were concurrent, so running them in a different order is allowed.
        def begin(conn: sqlite3.Connection) -> list[Any]:
            self._set_synchronous(conn, mode)
            return _begin_and_run(conn, sync_ops)

        sync_results = iter(await self._on_thread(begin))
        results = []
        for item in batch:
            if item.op is not None:
                results.append(await item.op(self._conn))
            else:
                results.append(next(sync_results))
        await self._conn.commit()
        return results

    def _set_synchronous(self, conn: sqlite3.Connection, mode: str) -> None:
        """Set how the next commit waits for the disk (outside a transaction, on the writer's
        thread); a statement only when it changes."""
        if mode != self._synchronous:
            conn.execute(f"PRAGMA synchronous={mode}")
            self._synchronous = mode

    async def _on_thread(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn(sqlite3 connection)` on aiosqlite's thread, in one hop.

        aiosqlite has no public call for this; `_execute` (queue a call on the connection's
        thread) and `_conn` (its sqlite3 connection) are the ones its own methods use.
        """
        conn = self._conn
        result: T = await conn._execute(lambda: fn(conn._conn))  # type: ignore[no-untyped-call]
        return result

    async def _rollback(self) -> None:
        try:
            await self._conn.rollback()
        except sqlite3.Error as exc:
            log.warning("rollback failed", error=str(exc))


def _is_unavailable(exc: sqlite3.Error) -> bool:
    text = str(exc).lower()
    return any(word in text for word in ("disk", "readonly", "read-only", "locked", "i/o", "full"))


def _begin_and_run(conn: sqlite3.Connection, ops: list[SyncOp]) -> list[Any]:
    conn.execute("BEGIN IMMEDIATE")
    return [op(conn) for op in ops]


def _sync_transaction(conn: sqlite3.Connection, ops: list[SyncOp]) -> list[Any]:
    """BEGIN, every operation, COMMIT, on the connection's thread; rolled back on any error."""
    try:
        results = _begin_and_run(conn, ops)
        conn.commit()
    except BaseException:
        if conn.in_transaction:
            conn.rollback()
        raise
    return results


def _fail(batch: list[_Queued], exc: Exception) -> None:
    error: Exception = exc
    if isinstance(exc, sqlite3.Error):
        log.error("store write failed", error=str(exc))
        error = StoreUnavailable(f"the store cannot commit: {exc}")
    for item in batch:
        if not item.future.done():
            item.future.set_exception(error)
