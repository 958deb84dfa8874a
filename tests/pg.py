"""PostgreSQL for tests: a uniquely named database on the local server, dropped afterwards.

Without a reachable server the tests that need one skip, saying why; with
`VIDHOOK_REQUIRE_POSTGRES=1` (set by CI) they fail instead. `VIDHOOK_TEST_POSTGRES` names the
server's maintenance database (default `postgresql://postgres@127.0.0.1:5432/postgres`).

    async with postgres_database() as url:   # skips or fails when there is no server
        store = open_store(url)
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

__all__ = ["ADMIN_URL", "postgres_database", "require_postgres"]

ADMIN_URL = os.environ.get("VIDHOOK_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
_probe: list[str | None] = []


async def _reason_unreachable() -> str | None:
    """Why the server cannot be used, or None when it can (asked once per test run)."""
    if not _probe:
        try:
            conn = await asyncpg.connect(ADMIN_URL, timeout=3)
            await conn.close()
            _probe.append(None)
        except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
            where = urlsplit(ADMIN_URL).netloc.rpartition("@")[2]
            _probe.append(f"no PostgreSQL server at {where} ({type(exc).__name__}: {exc})")
    return _probe[0]


async def require_postgres() -> None:
    """Skip the test when no server answers; fail it if VIDHOOK_REQUIRE_POSTGRES=1."""
    reason = await _reason_unreachable()
    if reason is None:
        return
    if os.environ.get("VIDHOOK_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"{reason}, and VIDHOOK_REQUIRE_POSTGRES=1 requires one")
    pytest.skip(f"{reason}; set VIDHOOK_TEST_POSTGRES or start one to run this test")


@asynccontextmanager
async def postgres_database() -> AsyncIterator[str]:
    """Create a database named `vidhook_test_<random>`, yield its URL, then drop it."""
    await require_postgres()
    name = f"vidhook_test_{uuid.uuid4().hex[:16]}"
    admin = await asyncpg.connect(ADMIN_URL, timeout=10)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield urlunsplit(urlsplit(ADMIN_URL)._replace(path=f"/{name}"))
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()
