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


def _full(conn: sqlite3.Connection) -> None:
    (pages,) = conn.execute("PRAGMA page_count").fetchone()
    conn.execute(f"PRAGMA max_page_count = {pages}")


def _not_full(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA max_page_count = 1073741823")


def _read_only(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA query_only = ON")


def _writable(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA query_only = OFF")


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

    connector = vidhook.services.store.connector  # its writer is the one connection that writes
    await connector.on_writer(break_store)
    unready = await client.get("/readyz")
    assert unready.status_code == 503, unready.text  # ready means the store can commit now
    assert words in unready.json()["error"]["message"].replace("-", "")
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

    await connector.on_writer(mend_store)
    assert (await client.get("/readyz")).status_code == 200
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
