"""Storage: one `Store` with vidhook's storage rules, over a SQLite or PostgreSQL connector.

store.py, store_reads.py   the Store: every rule once, reads and writes
store_sessions.py          its dashboard sessions
store_health.py            sink health (the circuit breaker), with health_scripts.py
scripts.py                 its multi-statement writes, as transaction scripts
connector.py               the protocol a database implements for it
sqlite_connector.py        SQLite: group commit (group_commit.py), start-up check (sqlite_check.py)
postgres_connector.py      PostgreSQL: asyncpg pool, LISTEN/NOTIFY (pg_listen.py), migrations
*.sql                      each dialect's named statements, with the same names and columns
"""

from __future__ import annotations

import time
from collections.abc import Callable

from vidhook.receiver.errors import ConfigError
from vidhook.receiver.store.store import Store

__all__ = ["Store", "check_store", "open_store"]


def open_store(url: str, *, clock: Callable[[], float] = time.time) -> Store:
    """The store for a `store.url`: `sqlite:///path`, `sqlite://` (in memory, for tests) or
    `postgresql://...`; `clock` gives the time where a caller passes none."""
    if url.startswith("sqlite://"):
        from vidhook.receiver.store.sqlite_connector import SqliteConnector

        return Store(SqliteConnector(url), clock=clock)
    if url.startswith(("postgresql://", "postgres://")):
        _require_asyncpg()
        from vidhook.receiver.store.postgres_connector import PostgresConnector

        return Store(PostgresConnector(url), clock=clock)
    raise ConfigError(f"store.url: unsupported scheme in {url!r}; use sqlite:/// or postgresql://")


def _require_asyncpg() -> None:
    """Raise ConfigError unless asyncpg, the PostgreSQL driver, is installed: it comes with the
    `postgres` extra only, so a SQLite install does not carry it."""
    try:
        import asyncpg  # noqa: F401
    except ImportError:
        raise ConfigError(
            "store.url: a postgresql:// store needs the PostgreSQL driver (asyncpg), which is not "
            "installed; install it with: pip install 'vidhook[postgres]'"
        ) from None


def check_store(url: str) -> None:
    """Raise StoreDamaged if the SQLite file of `url` is damaged (see `sqlite_check`); run
    before a server starts, so it refuses with the file named and the way to recover.
    PostgreSQL checks its own files."""
    if url.startswith("sqlite://"):
        from vidhook.receiver.store.sqlite_check import check_database
        from vidhook.receiver.store.sqlite_connector import sqlite_path

        if sqlite_path(url):
            check_database(sqlite_path(url))
