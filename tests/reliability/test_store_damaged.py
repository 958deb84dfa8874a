"""Drill: a damaged SQLite file or WAL. Without a check, SQLite opens a database with damaged
pages and fails later, and it silently drops a WAL it cannot read, with the acknowledged
commits in it; vidhook refuses to start instead, naming the file and the way to recover."""

from __future__ import annotations

import asyncio
import shutil
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from drive import SOURCE_CONFIG
from sink_servers import free_port

from vidhook.receiver.errors import StoreDamaged
from vidhook.receiver.store import open_store
from vidhook.receiver.store.sqlite_check import check_database

PAGE = 4096
WAL_HEADER, FRAME = 32, 24 + PAGE


async def _database_with_events(path: Path, count: int = 40) -> None:
    store = open_store(f"sqlite:///{path}")
    await store.open()
    for i in range(count):
        await store.set_meta(f"key-{i}", "x" * 3000)  # a few pages each
    await store.close()


def _flip(path: Path, offset: int, length: int = 64) -> None:
    data = bytearray(path.read_bytes())
    for i in range(offset, offset + length):
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))


def test_serve_refuses_a_database_with_damaged_pages(tmp_path: Path) -> None:
    database = tmp_path / "vidhook.db"
    asyncio.run(_database_with_events(database))
    _flip(database, 2 * PAGE)  # the third page: a b-tree page of a table
    with sqlite3.connect(database) as plain:  # SQLite alone opens it and answers
        assert plain.execute("SELECT count(*) FROM schema_version").fetchone()[0] >= 1
    config = tmp_path / "vidhook.toml"
    config.write_text(f'[store]\nurl = "sqlite:///{database}"\n' + SOURCE_CONFIG)
    port = free_port()

    done = subprocess.run(
        [sys.executable, "-m", "vidhook", "serve", "--config", str(config), "--port", str(port)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip

    assert done.returncode != 0
    assert str(database) in done.stderr
    assert "damaged" in done.stderr and ".recover" in done.stderr and "backup" in done.stderr
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass  # nothing listens


def _crashed_copy(tmp_path: Path, transactions: int) -> tuple[Path, int]:
    """A database whose last `transactions` commits are only in its WAL, as a killed process
    leaves it (copied while the writer still has it open); returns it and its row count."""
    live, copy = tmp_path / "live.db", tmp_path / "crashed.db"
    conn = sqlite3.connect(live, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute("CREATE TABLE acknowledged (n INTEGER PRIMARY KEY, pad BLOB)")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for n in range(transactions):
        conn.execute("INSERT INTO acknowledged VALUES (?, zeroblob(100))", (n,))
    shutil.copy(live, copy)
    shutil.copy(f"{live}-wal", f"{copy}-wal")
    conn.close()
    return copy, transactions


def _rows(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT count(*) FROM acknowledged").fetchone()[0])


def test_a_whole_wal_passes_and_sqlite_replays_it(tmp_path: Path) -> None:
    database, committed = _crashed_copy(tmp_path, 5)
    check_database(str(database))
    assert _rows(database) == committed


def test_a_torn_last_frame_passes_because_its_commit_was_never_acknowledged(
    tmp_path: Path,
) -> None:
    database, committed = _crashed_copy(tmp_path, 5)
    wal = Path(f"{database}-wal")
    frames = (wal.stat().st_size - WAL_HEADER) // FRAME
    _flip(wal, WAL_HEADER + (frames - 1) * FRAME + 24 + 100)
    check_database(str(database))
    assert _rows(database) == committed - 1


def test_a_damaged_frame_before_later_commits_is_refused(tmp_path: Path) -> None:
    database, committed = _crashed_copy(tmp_path, 5)
    evidence = tmp_path / "evidence.db"
    shutil.copy(database, evidence)
    shutil.copy(f"{database}-wal", f"{evidence}-wal")
    _flip(Path(f"{database}-wal"), WAL_HEADER + 24 + 100)  # inside the first commit's page
    _flip(Path(f"{evidence}-wal"), WAL_HEADER + 24 + 100)
    assert _rows(evidence) < committed  # SQLite alone drops the later commits without a word

    with pytest.raises(StoreDamaged) as refused:
        check_database(str(database))
    assert "crashed.db-wal is damaged" in refused.value.message
    assert str(database) in refused.value.message


def test_a_wal_with_a_damaged_header_is_refused(tmp_path: Path) -> None:
    database, committed = _crashed_copy(tmp_path, 3)
    evidence = tmp_path / "evidence.db"
    shutil.copy(database, evidence)
    shutil.copy(f"{database}-wal", f"{evidence}-wal")
    _flip(Path(f"{database}-wal"), 16, 4)  # the first salt
    _flip(Path(f"{evidence}-wal"), 16, 4)
    assert _rows(evidence) < committed  # SQLite ignores the whole WAL

    with pytest.raises(StoreDamaged, match="damaged header"):
        check_database(str(database))


async def test_the_store_refuses_to_open_a_damaged_file(tmp_path: Path) -> None:
    database = tmp_path / "vidhook.db"
    await _database_with_events(database)
    _flip(database, 2 * PAGE)
    store = open_store(f"sqlite:///{database}")
    with pytest.raises(StoreDamaged, match="sqlite3"):
        await store.open()
