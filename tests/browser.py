"""The dashboard's browser harness: Debian's Chromium driven by Playwright, a loopback video
server, and screenshots at desktop and phone width.

Chromium is never downloaded: Playwright launches `/usr/bin/chromium` (`apt-get install
chromium`; `.ci/run` installs it). Without it the browser tests skip, unless
VIDHOOK_REQUIRE_BROWSER is set (as in CI), when they fail. Screenshots go to
VIDHOOK_SCREENSHOTS, or a temporary folder; pytest's summary names it.

The video, fixtures/video/tiny.mp4, is 2 s of ffmpeg's test pattern, VP9 in MP4 (which every
Chromium build plays), 9 KB:
    ffmpeg -f lavfi -i testsrc2=size=96x64:rate=10:duration=2 -c:v libvpx-vp9 -b:v 40k \
        -pix_fmt yuv420p -movflags +faststart -an tiny.mp4
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cache
from pathlib import Path

import pytest
from aiohttp import web
from playwright.async_api import Browser, Page, async_playwright, expect

__all__ = [
    "CHROMIUM",
    "SIZES",
    "chromium",
    "screenshot",
    "screenshots_dir",
    "screenshots_taken",
    "video_server",
]

CHROMIUM = Path("/usr/bin/chromium")
SIZES = {"desktop": (1280, 800), "phone": (390, 844)}
VIDEO = Path(__file__).parent / "fixtures" / "video" / "tiny.mp4"

_taken: list[Path] = []

# Assertions wait up to this long: a bound for a loaded 2-core machine, not a speed target.
expect.set_options(timeout=15_000)


@cache
def screenshots_dir() -> Path:
    """Where screenshots go: VIDHOOK_SCREENSHOTS, else one temporary folder per run."""
    chosen = os.environ.get("VIDHOOK_SCREENSHOTS")
    folder = Path(chosen) if chosen else Path(tempfile.mkdtemp(prefix="vidhook-screenshots-"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def screenshots_taken() -> list[Path]:
    """The screenshots this run wrote."""
    return list(_taken)


def require_chromium() -> None:
    """Skip (or, with VIDHOOK_REQUIRE_BROWSER set, fail) when Chromium is not installed."""
    if CHROMIUM.exists():
        return
    reason = f"no Chromium at {CHROMIUM}: apt-get install chromium to run the browser tests"
    if os.environ.get("VIDHOOK_REQUIRE_BROWSER"):
        pytest.fail(reason)
    pytest.skip(reason)


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """Debian's Chromium, headless (no sandbox: the tests may run as root)."""
    require_chromium()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"],
        )
        try:
            yield browser
        finally:
            await browser.close()


async def screenshot(page: Page, name: str) -> None:
    """PNGs of the page at desktop and phone width (`NAME-desktop.png`, `NAME-phone.png`);
    at phone width the page must not scroll sideways."""
    original = page.viewport_size
    for size, (width, height) in SIZES.items():
        await page.set_viewport_size({"width": width, "height": height})
        if size == "phone":
            wide = await page.evaluate("document.documentElement.scrollWidth")
            assert wide <= width, f"{name}: {wide} px wide at phone width {width}"
        path = screenshots_dir() / f"{name}-{size}.png"
        await page.screenshot(path=str(path))
        _taken.append(path)
    if original:
        await page.set_viewport_size(original)


@asynccontextmanager
async def video_server() -> AsyncIterator[str]:
    """A loopback HTTP server for the test video (with Range support); yields its URL."""
    app = web.Application()

    async def video(_: web.Request) -> web.FileResponse:
        return web.FileResponse(VIDEO, headers={"Content-Type": "video/mp4"})

    app.router.add_get("/tiny.mp4", video)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/tiny.mp4"
    finally:
        await runner.cleanup()
