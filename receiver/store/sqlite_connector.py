"""The SQLite connector: WAL, synchronous FULL, one writer thread with group commit."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, TypeVar

import aiosqlite

from vidhook.receiver.background import BackgroundLoop
from vidhook.receiver.errors import StoreDamaged, StoreUnavailable
from vidhook.receiver.private_files import prepare_sqlite_file
from vidhook.receiver.store.connector import Row, Script, Statement, result_of
from vidhook.receiver.store.group_commit import GroupCommitWriter, on_connection_thread
from vidhook.receiver.store.optional_terms import Variants
from vidhook.receiver.store.sql import dialect_queries, migrations
from vidhook.receiver.store.sqlite_check import check_database

__all__ = ["SqliteConnector", "sqlite_path"]

T = TypeVar("T")


_SKIP = re.compile(r"-- skip when empty: (\w+)")
# A statement's string literals and comments, which hold no parameters, and its `:name`s.
_LITERAL_OR_COMMENT = re.compile(r"('(?:[^']|'')*'|--[^\n]*)")
_NAMED = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
# What a `skip when empty` parameter holds when empty: no deliveries, no labels.
_EMPTY = ("[]", "{}")


@dataclass(frozen=True, slots=True)
class _Sql:
    """One statement of a block with its `:name` parameters turned into numbered ones
    (`?1`, `?2`...), bound from `names` in order: the sqlite3 module binds a dict by asking
    SQLite for each parameter's name, and binding by number took about 3 µs off the writer's
    time per ingest (30-odd parameters). `bind` reads those values from a statement's
    parameters."""

    text: str
    names: tuple[str, ...]
    skip: str | None
    bind: Callable[[Mapping[str, Any]], Sequence[Any]]


def _numbered(sql: str, skip: str | None) -> _Sql:
    names: dict[str, int] = {}

    def number(match: re.Match[str]) -> str:
        return f"?{names.setdefault(match.group(1), len(names) + 1)}"

    parts = _LITERAL_OR_COMMENT.split(sql)
    # split() puts the literals and comments at the odd places
    text = "".join(part if i % 2 else _NAMED.sub(number, part) for i, part in enumerate(parts))
    return _Sql(text, tuple(names), skip, _values_of(tuple(names)))


def _values_of(names: tuple[str, ...]) -> Callable[[Mapping[str, Any]], Sequence[Any]]:
    """A reader of `names`' values in order: one itemgetter reads them all in C (a list
    comprehension over insert_event's 30-odd names cost ingest about 2 µs more); for one
    name an itemgetter gives the value itself, not a tuple."""
    if len(names) > 1:
        return itemgetter(*names)
    return lambda params: tuple(params[name] for name in names)


def _split(block: str) -> list[_Sql]:
    """The statements of a block: each ends at a line (not a comment) ending in `;`. A
    statement after the line `-- skip when empty: NAME` is left out when the parameter NAME
    is empty (`[]` or `{}`: an event's deliveries when no rule routes it, its labels when it
    has none): a statement that would change nothing still costs its execution on the
    writer's thread."""
    statements: list[_Sql] = []
    lines: list[str] = []
    skip = None
    for line in block.splitlines():
        directive = _SKIP.fullmatch(line.strip())
        if directive:
            skip = directive.group(1)
            continue
        lines.append(line)
        if line.rstrip().endswith(";") and not line.lstrip().startswith("--"):
            statements.append(_numbered("\n".join(lines).rstrip().removesuffix(";"), skip))
            lines, skip = [], None
    if "".join(lines).strip():
        statements.append(_numbered("\n".join(lines), skip))
    return statements


_STATEMENTS = Variants(dialect_queries("sqlite"), _split)
_PRAGMAS = ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON", "busy_timeout=10000")


def sqlite_path(url: str) -> str:
    """The file of a `sqlite:///relative` or `sqlite:////absolute` URL; "" for in-memory
    (`sqlite://` or `sqlite:///:memory:`)."""
    path = url.removeprefix("sqlite://")
    path = path[1:] if path.startswith("/") else path
    return "" if path in ("", ":memory:") else path


class SqliteConnector:
    """A SQLite file: writes go through one group-commit writer on one aiosqlite connection
    (and its thread); reads use a second connection, which WAL lets run beside the writer. In
    memory, one connection serves both (a second connection would be another database).

    The delivery worker's leases and attempts are written with `durable=False` (see
    GroupCommitWriter): they need no disk flush of their own.

    The writer is the connector's one loop (`loops`): whoever opens the connector runs it
    between `open` and `close`, a server's supervisor or the store's own (see `Store.open`).
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.path = sqlite_path(url)
        self._dbs: list[aiosqlite.Connection] = []
        self._writer = GroupCommitWriter()
        self._writer.after_commit.append(self._after_commit)
        self.loops: Sequence[BackgroundLoop] = (self._writer,)
        self._reader: aiosqlite.Connection | None = None
        self._callbacks: list[Callable[[], None]] = []
        self._wake_after_commit = False

    async def open(self) -> None:
        """Check the file, connect, set the pragmas that make commits durable, and migrate."""
        try:
            if self.path:
                await asyncio.to_thread(check_database, self.path)
            prepare_sqlite_file(self.path)  # a new file is created 0600, and its WAL follows
            if self.path:
                await asyncio.to_thread(_try_open, self.path)
            writer = await self._connect()
            await on_connection_thread(writer, _set_up_writer)
            reader = await self._connect() if self.path else writer
        except (sqlite3.Error, OSError) as exc:
            await self.close()
            raise StoreUnavailable(f"cannot open SQLite store {self.path!r}: {exc}") from None
        except StoreDamaged:
            await self.close()
            raise
        self._reader = reader
        self._writer.db = writer

    async def close(self) -> None:
        """Close the connections and stop their threads (the writer loop, stopped first by
        its owner, has finished the queued writes)."""
        for db in self._dbs:
            await db.close()
        self._dbs = []
        self._writer.db = self._reader = None

    def on_wake(self, callback: Callable[[], None]) -> None:
        """Call `callback()` after each commit whose script asked to wake the workers."""
        self._callbacks.append(callback)

    async def read(self, statement: Statement) -> Any:
        """Run a reading statement on the reader's connection."""
        if self._reader is None:
            raise StoreUnavailable("the store is not open")
        try:
            return await on_connection_thread(self._reader, lambda c: self._run(c, statement))
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"the store does not answer: {exc}") from None

    async def write(self, statement: Statement, *, durable: bool = True) -> Any:
        """Run one statement in a transaction of the writer's next batch."""
        return await self._writer_or_fail().run(lambda c: self._run(c, statement), durable=durable)

    async def transaction(self, script: Callable[[], Script[T]], *, durable: bool = True) -> T:
        """Run a whole script on the writer's thread, inside one batch's transaction (started
        afresh if the batch is retried)."""
        return await self._writer_or_fail().run(lambda c: self._drive(c, script()), durable=durable)

    async def on_writer(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn` on the writer's connection and thread, outside any transaction (for
        operators' pragmas and for drills that make the file refuse writes)."""
        return await self._writer_or_fail().on_thread(fn)

    def _writer_or_fail(self) -> GroupCommitWriter:
        if self._writer.db is None:
            raise StoreUnavailable("the store is not open")
        return self._writer

    def _drive(self, conn: sqlite3.Connection, script: Script[T]) -> T:
        result: Any = None
        try:
            while True:
                statement = script.send(result)
                result = self._run(conn, statement)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]

    def _run(self, conn: sqlite3.Connection, statement: Statement) -> Any:
        if statement.kind == "wake":
            self._wake_after_commit = True
            return None
        params = statement.params
        rows: list[Row] = []
        count = -1
        for sql in _STATEMENTS.for_params(statement.name, params):
            if sql.skip is not None and params[sql.skip] in _EMPTY:
                continue
            cursor = conn.execute(sql.text, sql.bind(params))
            description = cursor.description  # built anew on each read
            if description is not None:
                columns = [column[0] for column in description]
                rows = [dict(zip(columns, values, strict=True)) for values in cursor.fetchall()]
            count = cursor.rowcount if count == -1 else count
        return result_of(statement, rows, count)

    def _after_commit(self) -> None:
        if self._wake_after_commit:
            self._wake_after_commit = False
            for callback in self._callbacks:
                callback()

    async def _connect(self) -> aiosqlite.Connection:
        """A connection with its own thread (aiosqlite's), rows read as dicts."""
        db = await aiosqlite.connect(self.path or ":memory:", isolation_level=None)
        self._dbs.append(db)
        await on_connection_thread(db, _set_up_connection)
        return db


def _try_open(path: str) -> None:
    """Open and close the file once, so that a path SQLite cannot open fails here, not inside
    aiosqlite.connect: that stops its thread without waiting, and the thread may then outlive
    the event loop it reports to."""
    sqlite3.connect(path).close()


def _set_up_connection(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA busy_timeout=10000")


def _set_up_writer(conn: sqlite3.Connection) -> None:
    """The pragmas that make commits durable, then the pending migrations."""
    for pragma in _PRAGMAS:
        conn.execute(f"PRAGMA {pragma}")
    _migrate(conn)


def _migrate(conn: sqlite3.Connection) -> None:
    """Apply the pending `sqlite_NNNN_*.sql` migrations (those not yet recorded), each in its
    own transaction."""
    conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    done = {version for (version,) in conn.execute("SELECT version FROM schema_version")}
    for version, script in migrations("sqlite"):
        if version not in done:
            conn.executescript(
                f"BEGIN IMMEDIATE;\n{script}\n"
                f"INSERT INTO schema_version VALUES ({version});\nCOMMIT;"
            )
