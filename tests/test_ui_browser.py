"""The dashboard in a real browser (Debian's Chromium through Playwright) against a real
vidhook on a loopback socket over a SQLite file: log in, watch a callback arrive live, open
it, play its video, replay it, log out; and what a browser must refuse or never run."""

from __future__ import annotations

import json
import re

import httpx
import pytest
from browser import chromium, screenshot, video_server
from drive import HOOK_PATH, SOURCE_CONFIG
from playwright.async_api import Page, expect

from tests.stored_events import ADMIN, RAW, READER, make_event
from vidhook.receiver.event import ErrorInfo
from vidhook.receiver.services import Services

pytestmark = pytest.mark.slow

CONFIG = (
    f"""
[[api_tokens]]
name = "ops"
token = "{ADMIN}"
scopes = ["read", "admin"]

[[api_tokens]]
name = "viewer"
token = "{READER}"
scopes = ["read"]

[sinks.archive-log]
type = "file"
path = "{{dir}}/out.jsonl"

[sinks.ops-log]
type = "file"
path = "{{dir}}/ops.jsonl"

[[rules]]
name = "everything"
sinks = ["archive-log"]
"""
    + SOURCE_CONFIG
)


def callback(task_id: str, video_url: str) -> bytes:
    """A vibegen callback of a completed task whose video is at `video_url`."""
    return json.dumps(
        {
            "event": "task.completed",
            "task_id": task_id,
            "status": "completed",
            "model": "vibe-2",
            "video_url": video_url,
            "created_at": "2026-01-10T10:00:00Z",
            "completed_at": "2026-01-10T10:02:30Z",
        }
    ).encode()


SEEDED = [
    make_event(1, task_id="tsk_8f2a61", model="vibe-2", labels={"team": "growth"}),
    make_event(2, task_id="tsk_8f2a77", status="failed", model="vibe-2-pro",
               error=ErrorInfo("Content policy violation", "policy")),
    make_event(3, task_id="tsk_8f2a90", status="processing", type="task.progress",
               provider_status="rendering", progress=40, video_urls=[], model="vibe-2"),
]  # fmt: skip


async def seed(services: Services) -> None:
    """A few stored events of each kind before the live one arrives."""
    for event in SEEDED:
        await services.store.ingest(event, RAW, services.route)


async def log_in(page: Page, base: str, token: str) -> None:
    """Log in through the form, as a person would."""
    await page.goto(f"{base}/ui/events")
    await expect(page).to_have_url(re.compile(r"/ui/login\?next="))
    await page.get_by_label("API token").fill(token)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("heading", name="Events")).to_be_visible()


async def test_an_operator_watches_a_callback_arrive_plays_it_replays_it_and_logs_out(
    vidhook_factory,
):
    vidhook = await vidhook_factory(CONFIG)
    await seed(vidhook.services)
    async with video_server() as video_url, chromium() as browser:
        page = await browser.new_page(viewport={"width": 1280, "height": 800})
        # No script error and no policy violation (CSP) on any page along the way.
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda error: problems.append(str(error)))
        await page.goto(f"{vidhook.url}/ui/login")
        await screenshot(page, "login")
        await log_in(page, vidhook.url, ADMIN)
        # A filter is kept while rows arrive live: only the matching task appears.
        await page.get_by_label("Status").select_option("completed")
        await page.get_by_role("button", name="Filter").click()
        await expect(page).to_have_url(re.compile(r"status=completed"))
        async with httpx.AsyncClient(base_url=vidhook.url) as client:
            sent = await client.post(HOOK_PATH, content=callback("task-live-1", video_url))
            assert sent.status_code == 200, sent.text
        row = page.locator("#event-rows tr", has_text="task-live-1")
        await expect(row).to_be_visible()
        await expect(row.locator(".badge")).to_have_text("✓ completed")
        await expect(page).to_have_url(re.compile(r"status=completed"))
        await expect(page.locator("#event-rows tr")).to_have_count(2)  # and one seeded
        await page.get_by_role("link", name="Clear").click()
        await expect(page.locator("#event-rows tr")).to_have_count(len(SEEDED) + 1)
        await screenshot(page, "events")

        await row.get_by_role("link", name="task-live-1").click()
        await expect(page.get_by_role("heading", name=re.compile("task-live-1"))).to_be_visible()
        video = page.locator("video")
        await expect(video).to_have_attribute("src", video_url)
        await video.evaluate("v => { v.muted = true; return v.play(); }")
        await page.wait_for_function(
            "document.querySelector('video').readyState >= 2", timeout=15_000
        )
        await screenshot(page, "event")

        await page.get_by_label("ops-log").check()
        await page.get_by_role("button", name="Replay").click()
        await expect(page).to_have_url(re.compile(r"replayed="))
        fresh = page.locator("article.delivery.new")
        await expect(fresh).to_have_count(1)
        await expect(fresh).to_contain_text("ops-log")
        await expect(fresh).to_contain_text("replay")
        await screenshot(page, "event-replayed")

        await page.get_by_role("button", name="Log out").click()
        await expect(page.get_by_text("You are logged out.")).to_be_visible()
        await page.goto(f"{vidhook.url}/ui/events")
        await expect(page).to_have_url(re.compile(r"/ui/login"))
        refused = await page.request.get(f"{vidhook.url}/ui/live", max_redirects=0)
        assert refused.status == 303
        assert problems == []


async def test_a_read_token_gets_no_replay_button_and_its_forged_post_is_refused(
    vidhook_factory,
):
    vidhook = await vidhook_factory(CONFIG, run_workers=False)
    event = make_event(1)
    await vidhook.services.store.ingest(event, RAW, vidhook.services.route)
    async with chromium() as browser:
        page = await browser.new_page()
        await log_in(page, vidhook.url, READER)
        await page.goto(f"{vidhook.url}/ui/events/{event.id}")
        await expect(page.get_by_text("read only")).to_be_visible()
        await expect(page.get_by_role("button", name="Replay")).to_have_count(0)
        csrf = await page.locator("input[name=csrf_token]").first.input_value()
        forged = await page.request.post(
            f"{vidhook.url}/ui/events/{event.id}/replay", form={"csrf_token": csrf}
        )
        assert forged.status == 403
        # With JavaScript off the pages read the same.
        context = await browser.new_context(java_script_enabled=False)
        still = await context.new_page()
        await log_in(still, vidhook.url, READER)
        await still.get_by_role("link", name=event.task_id).click()
        await expect(still.get_by_role("heading", name="Deliveries")).to_be_visible()
        await expect(still.locator("video")).to_have_attribute("src", event.video_urls[0])
    assert len(await vidhook.services.store.deliveries_of(event.id)) == 1


async def test_a_form_without_its_csrf_token_is_refused_with_a_clear_page(vidhook_factory):
    vidhook = await vidhook_factory(CONFIG, run_workers=False)
    event = make_event(1)
    await vidhook.services.store.ingest(event, RAW, vidhook.services.route)
    async with chromium() as browser:
        page = await browser.new_page()
        await log_in(page, vidhook.url, ADMIN)
        await page.goto(f"{vidhook.url}/ui/events/{event.id}")
        await page.locator("form.replay input[name=csrf_token]").evaluate("e => e.remove()")
        await page.get_by_role("button", name="Replay").click()
        await expect(page.get_by_role("heading", name=re.compile("403"))).to_be_visible()
        await expect(page.get_by_text("Nothing was done")).to_be_visible()
        await screenshot(page, "csrf-refused")
    assert len(await vidhook.services.store.deliveries_of(event.id)) == 1


async def test_provider_html_and_javascript_urls_stay_text_and_the_cookie_is_locked_down(
    vidhook_factory,
):
    vidhook = await vidhook_factory(CONFIG, run_workers=False)
    event = make_event(
        7,
        task_id='<img src=x onerror="window.owned=1">',
        model="<script>window.owned=2</script>",
        video_urls=["javascript:window.owned=3"],
        error=None,
    )
    await vidhook.services.store.ingest(event, RAW, vidhook.services.route)
    async with chromium() as browser:
        context = await browser.new_context()
        page = await context.new_page()
        dialogs: list[str] = []
        page.on("dialog", lambda dialog: dialogs.append(dialog.message))
        await log_in(page, vidhook.url, ADMIN)
        for path in ("/ui/events", f"/ui/events/{event.id}"):
            await page.goto(f"{vidhook.url}{path}")
            await expect(
                page.get_by_text('<img src=x onerror="window.owned=1">').first
            ).to_be_visible()
            assert await page.evaluate("window.owned") is None
            assert await page.locator("img").count() == 0
            assert await page.locator("a[href^='javascript']").count() == 0
        assert await page.locator("video").count() == 0
        await expect(page.get_by_text("not an http(s) link")).to_be_visible()
        assert dialogs == []
        (session,) = [c for c in await context.cookies() if c["name"] == "vidhook_session"]
        assert session["httpOnly"] is True and session["sameSite"] == "Strict"
        assert session["path"] == "/ui" and session["secure"] is False
        assert await page.evaluate("document.cookie") == ""
