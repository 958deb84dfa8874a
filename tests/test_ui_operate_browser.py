"""The dashboard's operating pages in a real browser (Debian's Chromium through Playwright)
against a running vidhook: a delivery goes dead on a real loopback sink answering 410, the
operator retries it from the deliveries page and it is delivered; a pasted rule is tried on the
rules page and its matched events are listed; usage is grouped. Screenshots of each page at
both widths."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from aiohttp import web
from browser import chromium, screenshot
from playwright.async_api import Page, expect

from tests.stored_events import ADMIN, RAW, make_event

pytestmark = pytest.mark.slow


@asynccontextmanager
async def partner_sink() -> AsyncIterator[tuple[str, list[int]]]:
    """A loopback HTTP sink that answers 410 (final: the delivery goes dead) until told to
    answer 200 by appending 200 to the list it yields."""
    answers: list[int] = [410]
    app = web.Application()

    async def hook(_: web.Request) -> web.Response:
        return web.Response(status=answers[-1], text="gone" if answers[-1] == 410 else "ok")

    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/hook", answers
    finally:
        await runner.cleanup()


def config(sink_url: str) -> str:
    return f"""
[[api_tokens]]
name = "ops"
token = "{ADMIN}"
scopes = ["read", "admin"]

[sources.vibegen]
provider = "vibegen"

[sinks.partner]
type = "http"
url = "{sink_url}"

[[rules]]
name = "to-partner"
when = {{ type = "task.completed" }}
sinks = ["partner"]
"""


async def state_of(store, delivery_id: str, wanted: str) -> None:
    """Wait (at most 15 s) until the delivery reaches `wanted`."""
    for _ in range(150):
        row = await store.get_delivery(delivery_id)
        if row is not None and row.state == wanted:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"delivery {delivery_id} never became {wanted}")


async def log_in(page: Page, base: str) -> None:
    await page.goto(f"{base}/ui/deliveries")
    await page.get_by_label("API token").fill(ADMIN)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("heading", name="Deliveries")).to_be_visible()


async def test_an_operator_retries_a_dead_delivery_and_tries_a_rule(vidhook_factory):
    async with partner_sink() as (sink_url, answers), chromium() as browser:
        vidhook = await vidhook_factory(config(sink_url))
        store = vidhook.services.store
        await store.ingest(make_event(1, task_id="tsk_gone"), RAW, vidhook.services.route)
        failed = make_event(2, task_id="tsk_failed", status="failed")
        await store.ingest(failed, RAW, vidhook.services.route)
        (dead,) = await store.list_deliveries(None, "partner", None, 10)
        await state_of(store, dead.id, "dead")

        page = await browser.new_page(viewport={"width": 1280, "height": 800})
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        await log_in(page, vidhook.url)
        card = page.locator(f"#delivery-{dead.id}")
        await expect(card).to_contain_text("dead")
        await card.get_by_text("Attempts (1)").click()
        await expect(card).to_contain_text("HTTP 410")
        await screenshot(page, "deliveries")

        answers.append(200)
        await card.get_by_role("button", name="Retry").click()
        await expect(page.get_by_role("status")).to_contain_text("is due again")
        await state_of(store, dead.id, "delivered")
        await page.get_by_label("State").select_option("delivered")
        await page.get_by_role("button", name="Filter").click()
        await expect(page.locator(f"#delivery-{dead.id}")).to_contain_text("delivered")

        await page.get_by_role("link", name="Sinks").click()
        await expect(page.locator("#sink-partner")).to_contain_text("healthy")
        await page.get_by_role("button", name="Pause partner").click()
        await expect(page.locator("#sink-partner")).to_contain_text("by hand (token:ops)")
        await screenshot(page, "sinks")
        await page.get_by_role("button", name="Resume partner").click()
        await expect(page.locator("#sink-partner")).to_contain_text("healthy")
        await page.get_by_role("link", name="Tasks").click()
        await expect(page.get_by_role("heading", name="Tasks")).to_be_visible()
        await screenshot(page, "tasks")

        await page.get_by_role("link", name="Rules").click()
        await expect(page.get_by_role("rowheader", name="to-partner")).to_be_visible()
        await page.get_by_label("Rule (TOML)").fill(
            '[[rules]]\nname = "failures"\nwhen = { status = "failed" }\nsinks = ["partner"]\n'
        )
        await page.get_by_role("button", name="Try").click()
        await expect(page.get_by_role("heading", name="failures: matched 1")).to_be_visible()
        await expect(
            page.locator("#results").get_by_role("link", name="tsk_failed")
        ).to_be_visible()
        await expect(page.locator("#results")).not_to_contain_text("tsk_gone")
        await screenshot(page, "rules")
        await page.get_by_label("Rule (TOML)").fill('[[rules]]\nname = "x"\nsinks = ["nowhere"]\n')
        await page.get_by_role("button", name="Try").click()
        await expect(page.get_by_role("alert")).to_contain_text('unknown sink "nowhere"')
        await page.get_by_role("link", name="Usage").click()
        await page.get_by_label("Group by").fill("source,status")
        await page.get_by_role("button", name="Show").click()
        await expect(page.locator("table.usage tbody tr")).to_have_count(2)
        await screenshot(page, "usage")
        assert problems == [] or all("400" in p for p in problems), problems
