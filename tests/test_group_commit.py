"""The group-commit writer: operations batched into one commit, isolated on failure."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import aiosqlite
import pytest

from vidhook.receiver.errors import StoreUnavailable
from vidhook.receiver.store.group_commit import GroupCommitWriter
from vidhook.receiver.store.sqlite_connector import SqliteConnector


@pytest.fixture
async def writer(tmp_path: Path) -> AsyncIterator[tuple[GroupCommitWriter, Path, list[int]]]:
    """A started writer over a real SQLite file with one table, and its commit counter."""
    path = tmp_path / "writer.db"
    db = await aiosqlite.connect(path, isolation_level=None)
    await db.execute("PRAGMA journal_mode=WAL")
    await db.execute("PRAGMA synchronous=FULL")
    await db.execute("CREATE TABLE rows (name TEXT PRIMARY KEY)")
    commits: list[int] = []
    writer = GroupCommitWriter(db)
    writer.after_commit.append(lambda: commits.append(1))
    writer.start()
    yield writer, path, commits
    await writer.stop()
    await db.close()


def insert(name: str):
    def op(conn: sqlite3.Connection) -> str:
        conn.execute("INSERT INTO rows (name) VALUES (?)", (name,))
        return name

    return op


def stored(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {row[0] for row in conn.execute("SELECT name FROM rows")}


async def test_concurrent_synchronous_operations_share_one_commit(writer):
    group, path, commits = writer
    names = [f"row-{i}" for i in range(10)]
    results = await asyncio.gather(*(group.run(insert(name)) for name in names))
    assert results == names
    assert len(commits) == 1
    assert stored(path) == set(names)


async def test_an_answer_means_the_row_is_committed(writer):
    group, path, _ = writer
    await group.run(insert("durable"))
    assert "durable" in stored(path)  # read through a separate connection


async def test_a_failing_operation_does_not_fail_its_neighbours(writer):
    group, path, _ = writer

    def broken(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO rows (name) VALUES ('from-broken')")
        raise ValueError("this operation is wrong")

    outcomes = await asyncio.gather(
        group.run(insert("before")),
        group.run(broken),
        group.run(insert("after")),
        return_exceptions=True,
    )
    assert outcomes[0] == "before" and outcomes[2] == "after"
    assert isinstance(outcomes[1], ValueError)
    assert stored(path) == {"before", "after"}


def synchronous_mode(record: list[int]):
    """An operation that notes the connection's PRAGMA synchronous (1 NORMAL, 2 FULL)."""

    def op(conn: sqlite3.Connection) -> None:
        record.append(conn.execute("PRAGMA synchronous").fetchone()[0])

    return op


async def test_a_batch_of_only_non_durable_operations_commits_without_a_disk_flush(writer):
    group, path, _ = writer
    modes: list[int] = []
    await group.run(insert("lease"), durable=False)
    await group.run(synchronous_mode(modes), durable=False)
    await group.run(synchronous_mode(modes))
    await group.run(synchronous_mode(modes), durable=False)
    assert modes == [1, 2, 1]
    assert "lease" in stored(path)  # committed all the same


async def test_one_durable_operation_makes_its_whole_batch_flush(writer):
    group, path, commits = writer
    modes: list[int] = []
    await asyncio.gather(
        group.run(synchronous_mode(modes), durable=False),
        group.run(insert("callback")),
        group.run(synchronous_mode(modes), durable=False),
    )
    assert len(commits) == 1
    assert modes == [2, 2]
    assert "callback" in stored(path)


async def test_a_path_sqlite_cannot_open_fails_before_any_connection_thread(tmp_path: Path) -> None:
    """aiosqlite stops a thread whose connect failed without waiting for it, and that thread
    can then report to a closed event loop; the connector finds such a path first."""
    (tmp_path / "a-directory").mkdir()
    connector = SqliteConnector(f"sqlite:///{tmp_path / 'a-directory'}")

    with pytest.raises(StoreUnavailable, match="cannot open SQLite store"):
        await connector.open()

    workers = [t for t in threading.enumerate() if "_connection_worker_thread" in t.name]
    assert workers == []


async def test_writes_queued_while_the_batch_gathers_share_its_commit(writer):
    """A write queued a few event-loop rounds after the first still joins its commit, as the
    callbacks the loop is still reading do under load."""
    group, path, commits = writer

    async def after_rounds(name: str, rounds: int) -> str:
        for _ in range(rounds):
            await asyncio.sleep(0)
        return await group.run(insert(name))

    names = [f"late-{rounds}" for rounds in range(5)]
    results = await asyncio.gather(*(after_rounds(name, n) for n, name in enumerate(names)))
    assert results == names
    assert len(commits) == 1
    assert stored(path) == set(names)
