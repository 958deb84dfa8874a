"""SQLite files made by earlier versions keep their data through the migrations."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from store_contract.samples import RAW, make_event

from vidhook.receiver.store import open_store
from vidhook.receiver.store.rows import encode
from vidhook.receiver.store.sql import migrations


def _file_at_version(path: Path, last: int) -> sqlite3.Connection:
    """A SQLite file with the migrations up to `last` applied, as that version left it."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    for version, script in migrations("sqlite"):
        if version <= last:
            conn.executescript(
                f"BEGIN;\n{script}\nINSERT INTO schema_version VALUES ({version});\nCOMMIT;"
            )
    return conn


async def test_raw_requests_move_into_their_events_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    event = make_event("t1")
    with _file_at_version(path, 15) as conn:
        conn.execute(
            "INSERT INTO events (id, source, provider, task_id, type, status, received_at, body)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (event.id, event.source, event.provider, event.task_id, event.type, event.status,
             event.received_at, encode(event)),
        )  # fmt: skip
        conn.execute(
            "INSERT INTO raw_requests (event_id, method, path, client, headers, body)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (event.id, RAW.method, RAW.path, RAW.client, encode(RAW.headers), RAW.body),
        )
    store = open_store(f"sqlite:///{path}")
    await store.open()
    try:
        assert await store.get_raw(event.id) == RAW
        assert (await store.get_event(event.id)).event == event
    finally:
        await store.close()
    with sqlite3.connect(path) as conn:
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master")}
    assert "raw_requests" not in tables and "tasks_polled" in tables
