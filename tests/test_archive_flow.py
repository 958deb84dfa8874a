"""The archive end to end over real sockets: a callback with a video from a loopback CDN is
archived, its deliveries wait for the archive and carry the link, and the copy plays through
`/media` (Range, HEAD, ETag) after the CDN's link has expired."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest

from tests.archive_cdn import Cdn, running_cdn, small_mp4
from tests.pg import postgres_database
from tests.sink_servers import HttpServer

VIDEO = small_mp4(700 * 1024)
TOKEN = "tok-1234567890abcdef"

CONFIG = """
[server]
public_url = "https://hooks.example.com"

[sources.vibegen]
provider = "vibegen"
tokens = ["tok-1234567890abcdef"]

[sinks.app]
type = "http"
url = "{sink}"

[[rules]]
name = "all"
sinks = ["app"]

[archive]
store = "file://{dir}/videos"
allow_private = true
wait = "{wait}"
"""


@pytest.fixture
async def cdn() -> AsyncIterator[Cdn]:
    async for running in running_cdn(VIDEO):
        yield running


def callback(video_url: str, task_id: str = "task-1") -> bytes:
    return json.dumps(
        {"event": "task.completed", "task_id": task_id, "status": "completed",
         "video_url": video_url, "created_at": "2025-03-10T10:00:00Z"}
    ).encode()  # fmt: skip


async def until(check, rounds: int = 1500):
    for _ in range(rounds):
        found = await check()
        if found:
            return found
        await asyncio.sleep(0.02)
    raise AssertionError("not reached in time")


async def start(vidhook_factory, sink: HttpServer, wait: str = "30s"):
    config = CONFIG.replace("{sink}", sink.url).replace("{wait}", wait)
    return await vidhook_factory(config)


async def test_the_sink_gets_the_archived_link_and_it_plays_after_the_cdn_expires(
    vidhook_factory, cdn, tmp_path
):
    async with HttpServer() as sink:
        vidhook = await start(vidhook_factory, sink)
        answer = await vidhook.client.post(f"/hooks/vibegen/{TOKEN}", content=callback(cdn.url()))
        assert answer.status_code == 200, answer.text

        async def delivered():
            return sink.received

        [request] = await until(delivered)
        sent = json.loads(request.body)
        assert sent["video_urls"] == [cdn.url()]
        [link] = sent["archived_urls"]
        assert link.startswith(f"https://hooks.example.com/media/{answer.json()['id']}/0?exp=")
        cdn.mode = "gone"  # as the provider's CDN does after a day
        parts = urlsplit(link)
        path = f"{parts.path}?{parts.query}"

        full = await vidhook.client.get(path)
        assert full.status_code == 200
        assert full.content == VIDEO
        assert full.headers["content-type"] == "video/mp4"
        assert full.headers["accept-ranges"] == "bytes"
        assert full.headers["etag"] == f'"{hashlib.sha256(VIDEO).hexdigest()}"'

        part = await vidhook.client.get(path, headers={"Range": "bytes=1000-4999"})
        assert part.status_code == 206
        assert part.content == VIDEO[1000:5000]
        assert part.headers["content-range"] == f"bytes 1000-4999/{len(VIDEO)}"
        tail = await vidhook.client.get(path, headers={"Range": "bytes=-10"})
        assert (tail.status_code, tail.content) == (206, VIDEO[-10:])
        past = await vidhook.client.get(path, headers={"Range": f"bytes={len(VIDEO)}-"})
        assert past.status_code == 416
        assert past.headers["content-range"] == f"bytes */{len(VIDEO)}"

        head = await vidhook.client.head(path)
        assert (head.status_code, head.content) == (200, b"")
        assert head.headers["content-length"] == str(len(VIDEO))
        again = await vidhook.client.get(path, headers={"If-None-Match": full.headers["etag"]})
        assert again.status_code == 304
        assert list((tmp_path / "videos").rglob(".part-*")) == []


async def test_bad_expired_and_unknown_links_are_refused(vidhook_factory, cdn):
    async with HttpServer() as sink:
        vidhook = await start(vidhook_factory, sink)
        answer = await vidhook.client.post(f"/hooks/vibegen/{TOKEN}", content=callback(cdn.url()))
        event_id = answer.json()["id"]

        async def archived():
            stored = await vidhook.services.store.get_event(event_id)
            return stored.event.archived_urls

        [link] = await until(archived)
        query = urlsplit(link).query
        exp = int(query.split("exp=")[1].split("&")[0])
        sig = query.split("sig=")[1]
        assert (await vidhook.client.get(f"/media/{event_id}/0?{query}")).status_code == 200
        forged = f"/media/{event_id}/0?exp={exp + 1}&sig={sig}"
        assert (await vidhook.client.get(forged)).status_code == 403
        assert (await vidhook.client.get(f"/media/{event_id}/0?exp={exp}&sig=x")).status_code == 403
        assert (await vidhook.client.get(f"/media/{event_id}/0")).status_code == 403
        other = await vidhook.client.get(f"/media/{event_id}/1?{query}")
        assert other.status_code == 403  # signed for n=0 only
        links = vidhook.services.archive.links
        expired = await links.linker()  # signing is tested through a link already past
        assert expired is not None
        old = f"/media/{event_id}/0?exp=1000&sig={sig}"
        assert (await vidhook.client.get(old)).status_code == 403
        assert (await vidhook.client.get(f"/media/{event_id}/x?{query}")).status_code == 404
        error = (await vidhook.client.get(forged)).json()["error"]
        assert error["code"] == "bad_signature"


async def test_past_wait_the_delivery_goes_without_the_link(vidhook_factory, cdn):
    cdn.mode = "trickle"  # never finishes while the test runs
    async with HttpServer() as sink:
        vidhook = await start(vidhook_factory, sink, wait="1s")
        answer = await vidhook.client.post(f"/hooks/vibegen/{TOKEN}", content=callback(cdn.url()))
        assert answer.status_code == 200

        async def delivered():
            return sink.received

        [request] = await until(delivered)
        sent = json.loads(request.body)
        assert (sent["video_urls"], sent.get("archived_urls", [])) == ([cdn.url()], [])
        [job] = await vidhook.services.store.archive_jobs_of(answer.json()["id"])
        assert job.state == "pending"  # the archive goes on


async def test_on_postgresql_the_link_comes_with_the_delivery(vidhook_factory, cdn):
    async with postgres_database() as url, HttpServer() as sink:
        config = f'[store]\nurl = "{url}"\n' + CONFIG.replace("{sink}", sink.url)
        vidhook = await vidhook_factory(config.replace("{wait}", "30s"))
        answer = await vidhook.client.post(f"/hooks/vibegen/{TOKEN}", content=callback(cdn.url()))
        assert answer.status_code == 200, answer.text

        async def delivered():
            return sink.received

        [request] = await until(delivered)
        [link] = json.loads(request.body)["archived_urls"]
        parts = urlsplit(link)
        played = await vidhook.client.get(f"{parts.path}?{parts.query}")
        assert (played.status_code, played.content) == (200, VIDEO)
