"""Drill: the database cannot take writes (full). Callbacks are refused with 503, never
acknowledged and lost, and the service recovers by itself once the cause goes.

SQLite reports a full disk and a database at its `max_page_count` with the same error
(SQLITE_FULL), so capping the writer connection's page count at the current size stands in
for a full disk without needing a small filesystem.
"""

from __future__ import annotations

import sqlite3

from receiver.store.records import EventFilter
from tests.drive import HOOK_PATH, SOURCE_CONFIG, vibegen_callback


async def _set_max_pages(vidhook, pages: int | None) -> None:
    conn = vidhook.services.store._writer_conn  # the one connection that writes
    if pages is None:
        await conn.execute("PRAGMA max_page_count = 1073741823")
        return
    await conn.execute(f"PRAGMA max_page_count = {pages}")


async def test_a_full_store_refuses_with_503_and_recovers(vidhook_factory, tmp_path):
    vidhook = await vidhook_factory(SOURCE_CONFIG)
    client = vidhook.client
    for i in range(5):
        answer = await client.post(HOOK_PATH, content=vibegen_callback(f"before-{i}"))
        assert answer.status_code == 200

    rows = sqlite3.connect(tmp_path / "vidhook.db").execute("PRAGMA page_count").fetchone()
    await _set_max_pages(vidhook, rows[0])
    refused, accepted = [], []
    big = "x" * 20_000  # a body large enough that its row needs new pages
    for i in range(20):
        body = vibegen_callback(f"during-{i}").replace(
            b'"event"', f'"pad": "{big}", "event"'.encode()
        )
        answer = await client.post(HOOK_PATH, content=body)
        assert answer.status_code in (200, 503), answer.text
        if answer.status_code == 503:
            error = answer.json()["error"]
            assert error["code"] == "store_unavailable"
            assert "full" in error["message"]
            refused.append(f"during-{i}")
        else:
            accepted.append(f"during-{i}")
    assert refused, "no callback was refused while the store was full"
    assert (await client.get("/healthz")).status_code == 200

    await _set_max_pages(vidhook, None)
    for task_id in refused:
        answer = await client.post(HOOK_PATH, content=vibegen_callback(task_id))
        assert answer.status_code == 200, answer.text
        assert answer.json()["duplicate"] is False  # the refused one was not kept half-done

    stored = await vidhook.services.store.list_events(EventFilter(), 1000)
    task_ids = {item.event.task_id for item in stored}
    assert {f"before-{i}" for i in range(5)} <= task_ids
    assert set(refused) <= task_ids
    assert set(accepted) <= task_ids  # whatever was acknowledged while full was kept
    assert (await client.get("/readyz")).status_code == 200
