"""Repeats and late arrivals over HTTP: one event per (source, task, status), no going back."""

from __future__ import annotations

import asyncio
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

from tests.conftest import fixture_bytes
from vidhook.receiver.store.records import EventFilter

CONFIG = """
[sources.ark]
provider = "ark"

[sinks.first]
type = "file"
path = "{dir}/first.jsonl"

[sinks.second]
type = "file"
path = "{dir}/second.jsonl"

[[rules]]
name = "all"
sinks = ["first", "second"]
"""

TASK = "cgt-20250331175019-68d9t"
QUEUED = fixture_bytes("ark", "callback_queued")
RUNNING = fixture_bytes("ark", "callback_running")
SUCCEEDED = fixture_bytes("ark", "callback_succeeded")
FAILED = fixture_bytes("ark", "callback_failed").replace(b"x7k2m", b"68d9t")


def task_status(db: Path, task_id: str) -> str:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        (status,) = conn.execute(
            "SELECT status FROM tasks WHERE source = 'ark' AND task_id = ?", (task_id,)
        ).fetchone()
    return str(status)


async def post(vidhook: Any, body: bytes) -> dict[str, Any]:
    answer = await vidhook.client.post("/hooks/ark", content=body)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


async def test_fifty_concurrent_repeats_make_one_event_and_one_set_of_deliveries(
    vidhook_factory: Any,
) -> None:
    vidhook = await vidhook_factory(CONFIG)
    answers = await asyncio.gather(
        *(vidhook.client.post("/hooks/ark", content=SUCCEEDED) for _ in range(50))
    )
    assert [a.status_code for a in answers] == [200] * 50
    bodies = [a.json() for a in answers]
    assert Counter(body["duplicate"] for body in bodies) == {True: 49, False: 1}
    assert len({body["id"] for body in bodies}) == 1

    store = vidhook.services.store
    events = await store.list_events(EventFilter(task_id=TASK), 100)
    assert [stored.event.id for stored in events] == [bodies[0]["id"]]
    deliveries = await store.list_deliveries(None, None, None, 100)
    assert sorted(d.sink for d in deliveries) == ["first", "second"]
    assert {d.event_id for d in deliveries} == {bodies[0]["id"]}


async def test_repeat_after_the_first_is_200_duplicate_with_the_same_id(
    vidhook_factory: Any,
) -> None:
    vidhook = await vidhook_factory(CONFIG)
    first = await post(vidhook, QUEUED)
    again = await post(vidhook, QUEUED)
    assert first["duplicate"] is False
    assert again == {"id": first["id"], "duplicate": True}
    assert len(await vidhook.services.store.deliveries_of(first["id"])) == 2


async def test_statuses_in_order_are_each_stored_and_routed(
    vidhook_factory: Any, tmp_path: Path
) -> None:
    vidhook = await vidhook_factory(CONFIG)
    ids = [(await post(vidhook, body))["id"] for body in (QUEUED, RUNNING, SUCCEEDED)]
    store = vidhook.services.store
    for event_id in ids:
        stored = await store.get_event(event_id)
        assert stored is not None and not stored.stale
        assert len(await store.deliveries_of(event_id)) == 2
    assert task_status(tmp_path / "vidhook.db", TASK) == "completed"


async def test_late_processing_after_completed_is_stale_and_not_routed(
    vidhook_factory: Any, tmp_path: Path
) -> None:
    vidhook = await vidhook_factory(CONFIG)
    store = vidhook.services.store
    done = await post(vidhook, SUCCEEDED)
    late = await post(vidhook, RUNNING)
    assert late["duplicate"] is False
    assert late["id"] != done["id"]

    stored = await store.get_event(late["id"])
    assert stored is not None
    assert stored.stale
    assert stored.event.status == "processing"
    assert await store.deliveries_of(late["id"]) == []
    assert len(await store.deliveries_of(done["id"])) == 2
    assert await store.get_raw(late["id"]) is not None
    assert task_status(tmp_path / "vidhook.db", TASK) == "completed"

    assert await post(vidhook, RUNNING) == {"id": late["id"], "duplicate": True}
    queued = await post(vidhook, QUEUED)
    assert (await store.get_event(queued["id"])).stale  # type: ignore[union-attr]
    assert task_status(tmp_path / "vidhook.db", TASK) == "completed"


async def test_a_second_final_status_does_not_replace_the_first(
    vidhook_factory: Any, tmp_path: Path
) -> None:
    vidhook = await vidhook_factory(CONFIG)
    await post(vidhook, SUCCEEDED)
    failed = await post(vidhook, FAILED)
    stored = await vidhook.services.store.get_event(failed["id"])
    assert stored is not None and stored.stale
    assert await vidhook.services.store.deliveries_of(failed["id"]) == []
    assert task_status(tmp_path / "vidhook.db", TASK) == "completed"


async def test_concurrent_mixed_statuses_leave_one_event_each_and_the_task_finished(
    vidhook_factory: Any, tmp_path: Path
) -> None:
    vidhook = await vidhook_factory(CONFIG)
    bodies = [QUEUED, RUNNING, SUCCEEDED] * 15
    answers = await asyncio.gather(
        *(vidhook.client.post("/hooks/ark", content=body) for body in bodies)
    )
    assert {a.status_code for a in answers} == {200}
    assert sum(not a.json()["duplicate"] for a in answers) == 3
    events = await vidhook.services.store.list_events(EventFilter(task_id=TASK), 100)
    assert sorted(stored.event.status for stored in events) == [
        "completed",
        "pending",
        "processing",
    ]
    assert task_status(tmp_path / "vidhook.db", TASK) == "completed"
    routed = [e for e in events if not e.stale]
    assert any(e.event.status == "completed" for e in routed)
    for stored in events:
        count = len(await vidhook.services.store.deliveries_of(stored.event.id))
        assert count == (0 if stored.stale else 2)
