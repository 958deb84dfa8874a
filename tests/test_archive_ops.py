"""Operating the archive over real sockets and the command line: a 403 from the CDN makes a
dead job with its reason, visible and retryable through the admin API and `vidhook archive`;
keys rotate without breaking sent links; replay signs the links afresh."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest

from tests.archive_cdn import Cdn, running_cdn, small_mp4
from tests.stored_events import ADMIN, READER, bearer
from vidhook.receiver.cli import main

VIDEO = small_mp4(64 * 1024)
HOOK = "tok-1234567890abcdef"

CONFIG = f"""
[store]
url = "sqlite:///{{dir}}/vidhook.db"

[sources.vibegen]
provider = "vibegen"
tokens = ["{HOOK}"]

[[api_tokens]]
name = "ops"
token = "{ADMIN}"
scopes = ["read", "admin"]

[[api_tokens]]
name = "viewer"
token = "{READER}"
scopes = ["read"]

[archive]
store = "file://{{dir}}/videos"
allow_private = true
before_routing = false
"""


@pytest.fixture
async def cdn() -> AsyncIterator[Cdn]:
    async for running in running_cdn(VIDEO):
        yield running


def callback(video_url: str, task_id: str = "task-1") -> bytes:
    return json.dumps({"event": "task.completed", "task_id": task_id, "status": "completed",
                       "video_url": video_url}).encode()  # fmt: skip


async def until(check, rounds: int = 1500):
    for _ in range(rounds):
        found = await check()
        if found:
            return found
        await asyncio.sleep(0.02)
    raise AssertionError("not reached in time")


async def job_in(vidhook, event_id: str, state: str):
    async def check():
        jobs = await vidhook.services.store.archive_jobs_of(event_id)
        return jobs[0] if jobs and jobs[0].state == state else None

    return await until(check)


async def cli(capsys, tmp_path, *argv: str) -> tuple[int, str]:
    config = tmp_path / "vidhook.toml"
    config.write_text(CONFIG.replace("{dir}", str(tmp_path)))
    code = await asyncio.to_thread(main, [*argv, "--config", str(config)])
    # The server in this process logs to stdout too; the command's own lines are the rest.
    lines = capsys.readouterr().out.splitlines()
    return code, "\n".join(line for line in lines if not line.startswith("20"))


async def test_a_gone_link_is_dead_with_its_reason_and_retried_through_the_api(
    vidhook_factory, cdn
):
    cdn.mode = "gone"
    vidhook = await vidhook_factory(CONFIG)
    answer = await vidhook.client.post(f"/hooks/vibegen/{HOOK}", content=callback(cdn.url()))
    event_id = answer.json()["id"]
    dead = await job_in(vidhook, event_id, "dead")
    assert "HTTP 403" in dead.last_error
    page = await vidhook.client.get("/admin/archive?state=dead", headers=bearer(READER))
    assert page.status_code == 200
    [item] = page.json()["items"]
    assert (item["id"], item["state"], item["event_id"]) == (dead.id, "dead", event_id)
    assert page.json()["counts"] == {"pending": 0, "dead": 1, "archived": 0}
    mine = await vidhook.client.get(f"/admin/archive?event={event_id}", headers=bearer(READER))
    assert [i["id"] for i in mine.json()["items"]] == [dead.id]

    refused = await vidhook.client.post(f"/admin/archive/{dead.id}/retry", headers=bearer(READER))
    assert refused.status_code == 403
    unknown = await vidhook.client.post("/admin/archive/nope/retry", headers=bearer())
    assert unknown.status_code == 404
    cdn.mode = "ok"
    retried = await vidhook.client.post(f"/admin/archive/{dead.id}/retry", headers=bearer())
    assert retried.status_code == 200, retried.text
    done = await job_in(vidhook, event_id, "archived")
    assert done.size == len(VIDEO)
    again = await vidhook.client.post(f"/admin/archive/{dead.id}/retry", headers=bearer())
    assert (again.status_code, again.json()["error"]["code"]) == (409, "not_retryable")


async def test_the_cli_shows_and_retries_dead_archives(vidhook_factory, cdn, capsys, tmp_path):
    cdn.mode = "gone"
    vidhook = await vidhook_factory(CONFIG)
    for task_id in ("t1", "t2"):
        body = callback(cdn.url(), task_id)
        await vidhook.client.post(f"/hooks/vibegen/{HOOK}", content=body)

    async def both_dead():
        return (await vidhook.services.store.archive_counts()).dead == 2

    await until(both_dead)
    code, out = await cli(capsys, tmp_path, "archive", "status", "--dead", "--json")
    jobs = [json.loads(line) for line in out.splitlines()]
    assert code == 0
    assert [j["state"] for j in jobs] == ["dead", "dead"]
    assert all("HTTP 403" in j["last_error"] for j in jobs)
    cdn.mode = "ok"
    code, out = await cli(capsys, tmp_path, "archive", "retry", jobs[0]["id"])
    assert (code, jobs[0]["id"] in out) == (0, True)
    code, out = await cli(capsys, tmp_path, "archive", "retry", "--dead")
    assert (code, out.strip()) == (0, "retried 1 dead archive job")

    async def both_archived():
        return (await vidhook.services.store.archive_counts()).archived == 2

    await until(both_archived)
    code, out = await cli(capsys, tmp_path, "archive", "retry", "--dead", "--json")
    assert json.loads(out) == {"retried": 0}
    assert (await cli(capsys, tmp_path, "archive", "retry"))[0] == 2


async def test_rotation_keeps_sent_links_and_replay_signs_afresh(
    vidhook_factory, cdn, capsys, tmp_path
):
    vidhook = await vidhook_factory(CONFIG)
    answer = await vidhook.client.post(f"/hooks/vibegen/{HOOK}", content=callback(cdn.url()))
    event_id = answer.json()["id"]
    await job_in(vidhook, event_id, "archived")
    [old] = (await vidhook.services.store.get_event(event_id)).event.archived_urls

    code, out = await cli(capsys, tmp_path, "archive", "rotate-key")
    assert (code, out.startswith("new signing key in use")) == (0, True)
    vidhook.services.archive.links.reload()  # as every instance does within half a minute
    replayed = await vidhook.client.post(f"/admin/events/{event_id}/replay", headers=bearer())
    assert replayed.status_code in (200, 201), replayed.text
    [fresh] = (await vidhook.services.store.get_event(event_id)).event.archived_urls
    assert fresh != old
    for link in (old, fresh):
        parts = urlsplit(link)
        served = await vidhook.client.get(f"{parts.path}?{parts.query}")
        assert (served.status_code, served.content) == (200, VIDEO)
