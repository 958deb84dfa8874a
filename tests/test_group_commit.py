"""The group-commit writer: synchronous and async operations, batched, isolated on failure."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import aiosqlite
import pytest

from vidhook.receiver.store.group_commit import GroupCommitWriter


@pytest.fixture
async def writer(tmp_path: Path) -> AsyncIterator[tuple[GroupCommitWriter, Path, list[int]]]:
    """A started writer over a real SQLite file with one table, and its commit counter."""
    path = tmp_path / "writer.db"
    conn = await aiosqlite.connect(path, isolation_level=None)
    await conn.execute("PRAGMA journal_mode=WAL")
    await conn.execute("PRAGMA synchronous=FULL")
    await conn.execute("CREATE TABLE rows (name TEXT PRIMARY KEY)")
    commits: list[int] = []
    writer = GroupCommitWriter(conn)
    writer.after_commit.append(lambda: commits.append(1))
    writer.start()
    yield writer, path, commits
    await writer.stop()
    await conn.close()


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
    results = await asyncio.gather(*(group.run_sync(insert(name)) for name in names))
    assert results == names
    assert len(commits) == 1
    assert stored(path) == set(names)


async def test_an_answer_means_the_row_is_committed(writer):
    group, path, _ = writer
    await group.run_sync(insert("durable"))
    assert "durable" in stored(path)  # read through a separate connection


async def test_a_failing_operation_does_not_fail_its_neighbours(writer):
    group, path, _ = writer

    def broken(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO rows (name) VALUES ('from-broken')")
        raise ValueError("this operation is wrong")

    outcomes = await asyncio.gather(
        group.run_sync(insert("before")),
        group.run_sync(broken),
        group.run_sync(insert("after")),
        return_exceptions=True,
    )
    assert outcomes[0] == "before" and outcomes[2] == "after"
    assert isinstance(outcomes[1], ValueError)
    assert stored(path) == {"before", "after"}


async def test_async_and_synchronous_operations_mix_in_one_batch(writer):
    group, path, commits = writer

    async def insert_async(conn: aiosqlite.Connection) -> str:
        await conn.execute("INSERT INTO rows (name) VALUES ('async')")
        return "async"

    results = await asyncio.gather(
        group.run_sync(insert("sync-1")), group.run(insert_async), group.run_sync(insert("sync-2"))
    )
    assert results == ["sync-1", "async", "sync-2"]
    assert len(commits) == 1
    assert stored(path) == {"sync-1", "async", "sync-2"}


def synchronous_mode(record: list[int]):
    """An operation that notes the connection's PRAGMA synchronous (1 NORMAL, 2 FULL)."""

    def op(conn: sqlite3.Connection) -> None:
        record.append(conn.execute("PRAGMA synchronous").fetchone()[0])

    return op


async def test_a_batch_of_only_non_durable_operations_commits_without_a_disk_flush(writer):
    group, path, _ = writer
    modes: list[int] = []
    await group.run_sync(insert("lease"), durable=False)
    await group.run_sync(synchronous_mode(modes), durable=False)
    await group.run_sync(synchronous_mode(modes))
    await group.run_sync(synchronous_mode(modes), durable=False)
    assert modes == [1, 2, 1]
    assert "lease" in stored(path)  # committed all the same


async def test_one_durable_operation_makes_its_whole_batch_flush(writer):
    group, path, commits = writer
    modes: list[int] = []
    await asyncio.gather(
        group.run_sync(synchronous_mode(modes), durable=False),
        group.run_sync(insert("callback")),
        group.run_sync(synchronous_mode(modes), durable=False),
    )
    assert len(commits) == 1
    assert modes == [2, 2]
    assert "callback" in stored(path)
