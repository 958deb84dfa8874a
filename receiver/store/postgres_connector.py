"""The PostgreSQL connector: several vidhook instances sharing one database.

Statements run on an asyncpg pool; a transaction script holds one pooled connection from BEGIN
to COMMIT. Row locks taken by the statements themselves (the task row in ingest, `FOR UPDATE
SKIP LOCKED` in claims) make instances take turns where they must. A script that wakes the
workers sends `NOTIFY` inside its transaction, so the other instances hear of it at commit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import asyncpg

from vidhook.receiver.background import BackgroundLoop
from vidhook.receiver.errors import StoreUnavailable
from vidhook.receiver.event import new_id
from vidhook.receiver.store.connector import Row, Script, Statement, result_of
from vidhook.receiver.store.optional_terms import Variants
from vidhook.receiver.store.pg_listen import CHANNEL, DeliveryListener
from vidhook.receiver.store.pg_schema import migrate, parse_target
from vidhook.receiver.store.pg_sql import PgQuery, compile_query
from vidhook.receiver.store.sql import dialect_queries

__all__ = ["UNAVAILABLE", "PostgresConnector"]

T = TypeVar("T")
Q = Variants(dialect_queries("postgres"), compile_query)

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


class PostgresConnector:
    """A PostgreSQL database, through an asyncpg pool and one LISTEN connection.

    `url` is the address without its password, for logs; `pool_max`/`pool_min` in the URL's
    query size the pool (default 1..10), every other query option goes to the driver.

    The LISTEN connection is the connector's one loop (`loops`): whoever opens the connector
    runs it between `open` and `close` (a server's supervisor or the store's own, see
    `Store.open`), and stops it before the pool closes.
    """

    def __init__(self, url: str) -> None:
        self._target = parse_target(url)
        self.url = self._target.display
        self._pool: Any = None
        self._callbacks: list[Callable[[], None]] = []
        # Carried by this instance's notifications, so its listener can skip its own.
        self._origin = new_id()
        self._listener = DeliveryListener(self._target.dsn, self._origin, self._wake)
        self.loops: Sequence[BackgroundLoop] = (self._listener,)

    async def open(self) -> None:
        """Apply pending migrations (under an advisory lock), open the pool, and listen."""
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
            await self._listener.connect()
        except (*UNAVAILABLE, asyncpg.PostgresError, ValueError) as exc:  # ValueError: bad option
            await self.close()
            raise StoreUnavailable(f"cannot open PostgreSQL store {self.url}: {exc}") from None

    async def close(self) -> None:
        """Close every connection (the listener loop, stopped first by its owner, has let go
        of its own)."""
        await self._listener.disconnect()
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    def on_wake(self, callback: Callable[[], None]) -> None:
        """Call `callback()` when this or any other instance commits a script that wakes."""
        self._callbacks.append(callback)

    async def read(self, statement: Statement) -> Any:
        """Run one statement on a pooled connection (asyncpg prepares and caches it)."""
        async with self._connection() as conn:
            return await _run(conn, statement)

    async def write(self, statement: Statement, *, durable: bool = True) -> Any:
        """Run one statement, committed on its own (every commit here is durable)."""
        return await self.read(statement)

    async def transaction(self, script: Callable[[], Script[T]], *, durable: bool = True) -> T:
        """Run a whole script in one transaction on one pooled connection."""
        woke = False
        running = script()
        async with self._connection() as conn, conn.transaction():
            result: Any = None
            try:
                while True:
                    statement = running.send(result)
                    if statement.kind == "wake":
                        woke = True
                        result = await conn.execute(
                            "SELECT pg_notify($1, $2)", CHANNEL, self._origin
                        )
                    else:
                        result = await _run(conn, statement)
            except StopIteration as done:
                value: T = done.value
        if woke:
            self._wake()
        return value

    def _wake(self) -> None:
        for callback in self._callbacks:
            callback()

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


async def _run(conn: Any, statement: Statement) -> Any:
    query: PgQuery = Q.for_params(statement.name, statement.params)
    args = query.args(statement.params)
    if statement.kind == "count":
        status: str = await conn.execute(query.sql, *args)
        return int(status.rsplit(" ", 1)[-1]) if status[-1:].isdigit() else 0
    rows: list[Row] = [dict(r) for r in await conn.fetch(query.sql, *args)]
    return result_of(statement, rows, len(rows))


async def _keep_session(conn: Any) -> None:
    """Nothing to reset when a connection goes back to the pool: the store never changes a
    pooled session's settings, locks or LISTENs, and asyncpg rolls back any open transaction.
    Skipping the default reset query saves a round trip on every operation."""
