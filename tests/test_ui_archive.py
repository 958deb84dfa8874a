"""The event page plays vidhook's archived copy through a link signed when the page is shown,
so it works even after the link stored with the event has expired or its key was rotated."""

from __future__ import annotations

import asyncio
import html
import json
import re
from urllib.parse import urlsplit

from ui_session import log_in

from tests.archive_cdn import running_cdn, small_mp4
from tests.stored_events import READER
from vidhook.receiver.media_links import rotate_key

VIDEO = small_mp4(32 * 1024)
HOOK = "tok-1234567890abcdef"

CONFIG = f"""
[sources.vibegen]
provider = "vibegen"
tokens = ["{HOOK}"]

[[api_tokens]]
name = "viewer"
token = "{READER}"
scopes = ["read"]

[archive]
store = "file://{{dir}}/videos"
allow_private = true
before_routing = false
"""


async def test_the_player_gets_a_freshly_signed_link_to_the_archived_copy(vidhook_factory):
    vidhook = await vidhook_factory(CONFIG)
    store = vidhook.services.store
    async for cdn in running_cdn(VIDEO):
        body = {"event": "task.completed", "task_id": "t-1", "status": "completed",
                "video_url": cdn.url()}  # fmt: skip
        answer = await vidhook.client.post(f"/hooks/vibegen/{HOOK}", content=json.dumps(body))
        event_id = answer.json()["id"]
        for _ in range(1500):
            jobs = await store.archive_jobs_of(event_id)
            if jobs and jobs[0].state == "archived":
                break
            await asyncio.sleep(0.02)
        else:
            raise AssertionError("the video was not archived")
        [stored] = (await store.get_event(event_id)).event.archived_urls
    # A rotation (twice: the stored link's key is then no longer accepted) voids the stored link.
    for _ in range(2):
        await rotate_key(store, vidhook.services.clock(), 0.0)
    vidhook.services.archive.links.reload()
    stale = urlsplit(stored)
    assert (await vidhook.client.get(f"{stale.path}?{stale.query}")).status_code == 403
    await log_in(vidhook.client, READER)
    page = (await vidhook.client.get(f"/ui/events/{event_id}")).text
    [src] = re.findall(r'<video controls preload="metadata" src="([^"]+)"', page)
    fresh = urlsplit(html.unescape(src))
    assert fresh.path == f"/media/{event_id}/0" and html.unescape(src) != stored
    served = await vidhook.client.get(f"{fresh.path}?{fresh.query}")
    assert (served.status_code, served.content) == (200, VIDEO)
    assert "archived copy" in page and "may have expired" not in page
