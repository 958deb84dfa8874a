"""Drill: the database cannot take writes (disk full, or read-only). Callbacks are refused
with 503, never acknowledged and lost, and the service recovers by itself once the cause goes.

SQLite reports a full disk and a database at its `max_page_count` with the same error
(SQLITE_FULL), and a read-only file and a `query_only` connection with the same error
(SQLITE_READONLY); setting those on the writer connection stands in for the real causes
without a small filesystem or dropping root's rights.
"""

from __future__ import annotations

import sqlite3

import pytest

from tests.drive import HOOK_PATH, SOURCE_CONFIG, vibegen_callback
from vidhook.receiver.store.records import EventFilter

_PAD = "x" * 20_000  # large enough that the row needs new pages


def _padded(task_id: str) -> bytes:
    return vibegen_callback(task_id).replace(b'"event"', f'"pad": "{_PAD}", "event"'.encode())


async def _full(conn, db_path) -> None:
    pages = sqlite3.connect(db_path).execute("PRAGMA page_count").fetchone()[0]
    await conn.execute(f"PRAGMA max_page_count = {pages}")


async def _not_full(conn, _db_path) -> None:
    await conn.execute("PRAGMA max_page_count = 1073741823")


async def _read_only(conn, _db_path) -> None:
    await conn.execute("PRAGMA query_only = ON")


async def _writable(conn, _db_path) -> None:
    await conn.execute("PRAGMA query_only = OFF")


@pytest.mark.parametrize(
    ("break_store", "mend_store", "words"),
    [(_full, _not_full, "full"), (_read_only, _writable, "readonly")],
    ids=["disk-full", "read-only"],
)
async def test_a_store_that_cannot_write_refuses_with_503_and_recovers(
    vidhook_factory, tmp_path, break_store, mend_store, words
):
    vidhook = await vidhook_factory(SOURCE_CONFIG)
    client = vidhook.client
    for i in range(5):
        assert (await client.post(HOOK_PATH, content=vibegen_callback(f"before-{i}"))).is_success

    writer = vidhook.services.store._writer_conn  # the one connection that writes
    await break_store(writer, tmp_path / "vidhook.db")
    refused, accepted = [], []
    for i in range(20):
        answer = await client.post(HOOK_PATH, content=_padded(f"during-{i}"))
        assert answer.status_code in (200, 503), answer.text
        if answer.status_code == 503:
            error = answer.json()["error"]
            assert error["code"] == "store_unavailable"
            assert words in error["message"].replace("-", "")
            refused.append(f"during-{i}")
        else:
            accepted.append(f"during-{i}")
    assert refused, "no callback was refused while the store could not write"
    assert (await client.get("/healthz")).status_code == 200

    await mend_store(writer, tmp_path / "vidhook.db")
    for task_id in refused:
        answer = await client.post(HOOK_PATH, content=vibegen_callback(task_id))
        assert answer.status_code == 200, answer.text
        assert answer.json()["duplicate"] is False  # the refused one was not kept half-done

    stored = await vidhook.services.store.list_events(EventFilter(), 1000)
    task_ids = {item.event.task_id for item in stored}
    assert {f"before-{i}" for i in range(5)} <= task_ids
    assert set(refused) <= task_ids
    assert set(accepted) <= task_ids  # whatever was acknowledged meanwhile was kept
    assert (await client.get("/readyz")).status_code == 200
