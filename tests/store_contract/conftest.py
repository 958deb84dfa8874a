"""One opened store per test, on a SQLite file, PostgreSQL and in-memory SQLite in turn, and
more stores on the same database for the tests that play several vidhook instances (an
in-memory database belongs to one store, so those tests skip it)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from tests.pg import postgres_database
from tests.store_contract.samples import MEMORY
from vidhook.receiver.store import Store, open_store


@pytest.fixture(params=["sqlite", "postgres", "memory"])
async def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, empty database: a SQLite file, a uniquely named PostgreSQL database, or
    SQLite in memory (the connector unit tests use)."""
    if request.param == "memory":
        yield MEMORY
        return
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'contract.db'}"
        return
    async with postgres_database() as url:
        yield url


@pytest.fixture
async def open_another(store_url: str) -> AsyncIterator[Callable[[], Awaitable[Store]]]:
    """Open one more store on the same database, as a second vidhook instance would."""
    opened: list[Store] = []

    async def opener() -> Store:
        if store_url == MEMORY and opened:
            pytest.skip("an in-memory database belongs to one store")
        store = open_store(store_url)
        await store.open()
        opened.append(store)
        return store

    yield opener
    for store in reversed(opened):
        await store.close()


@pytest.fixture
async def store(open_another: Callable[[], Awaitable[Store]]) -> Store:
    """An opened store on a fresh database."""
    return await open_another()
