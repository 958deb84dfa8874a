"""Copies go with their rows: an event pruned by store retention, or a copy past
`retention_days`, has its file deleted by the archive worker before its job row goes; and the
`Range` header as `/media` reads it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from tests.archive_cdn import Cdn, running_cdn, small_mp4
from vidhook.receiver.media import Unsatisfiable, byte_range

VIDEO = small_mp4(32 * 1024)
HOOK = "tok-1234567890abcdef"
CONFIG = f"""
[sources.vibegen]
provider = "vibegen"
tokens = ["{HOOK}"]

[archive]
store = "file://{{dir}}/videos"
allow_private = true
before_routing = false
retention_days = 1
"""


@pytest.fixture
async def cdn() -> AsyncIterator[Cdn]:
    async for running in running_cdn(VIDEO):
        yield running


async def until(check, rounds: int = 1500):
    for _ in range(rounds):
        if await check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("not reached in time")


async def archive_one(vidhook, cdn, task_id: str) -> str:
    body = json.dumps({"event": "task.completed", "task_id": task_id, "status": "completed",
                       "video_url": cdn.url()}).encode()  # fmt: skip
    event_id = (await vidhook.client.post(f"/hooks/vibegen/{HOOK}", content=body)).json()["id"]

    async def archived():
        jobs = await vidhook.services.store.archive_jobs_of(event_id)
        return bool(jobs) and jobs[0].state == "archived"

    await until(archived)
    return event_id


async def test_a_pruned_event_takes_its_file_with_it(vidhook_factory, cdn, tmp_path):
    vidhook = await vidhook_factory(CONFIG)
    event_id = await archive_one(vidhook, cdn, "t1")
    assert len(list((tmp_path / "videos").rglob("*.mp4"))) == 1
    await vidhook.services.store.prune("9999-01-01T00:00:00.000Z")
    assert await vidhook.services.store.get_event(event_id) is None
    vidhook.services.archive.worker.wake()

    async def gone():
        rows = await vidhook.services.store.list_archive_jobs(None, None, None, 10)
        return rows == [] and not list((tmp_path / "videos").rglob("*.mp4"))

    await until(gone)
    assert [p for p in (tmp_path / "videos").rglob("*") if p.is_file()] == []


async def test_a_copy_past_retention_is_deleted_and_its_link_answers_404(
    vidhook_factory, cdn, tmp_path
):
    vidhook = await vidhook_factory(CONFIG)
    event_id = await archive_one(vidhook, cdn, "t1")
    [link] = (await vidhook.services.store.get_event(event_id)).event.archived_urls
    path = link.split("127.0.0.1:8080", 1)[1]
    assert (await vidhook.client.get(path)).status_code == 200
    assert await vidhook.services.store.expire_archives(vidhook.services.clock() + 1) == 1
    vidhook.services.archive.worker.wake()

    async def gone():
        return not list((tmp_path / "videos").rglob("*.mp4"))

    await until(gone)
    assert (await vidhook.client.get(path)).status_code == 404


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("bytes=0-99", (0, 99)),
        ("bytes=100-", (100, 999)),
        ("bytes=-100", (900, 999)),
        ("bytes=-5000", (0, 999)),
        ("bytes=990-5000", (990, 999)),
        ("bytes=5-4", None),
        ("bytes=0-1,5-6", None),
        ("items=0-1", None),
        ("bytes=-", None),
        ("bytes=" + "9" * 40 + "-", None),
    ],
)
def test_range_headers(header, expected):
    assert byte_range(header, 1000) == expected


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=-0", "bytes=5000-6000"])
def test_unsatisfiable_ranges(header):
    with pytest.raises(Unsatisfiable):
        byte_range(header, 1000)
