"""Archive drills on a real `vidhook serve`: SIGKILL during a large download from a throttled
loopback CDN, then a restart that completes the video and leaves no part behind."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import socket
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from aiohttp import web

sys.path.insert(0, str(Path(__file__).parent))
from drive import eventually
from serve_process import ServeProcess
from stored_events import ADMIN, bearer

pytestmark = pytest.mark.slow

SIZE = 32 * 1024 * 1024
CHUNK = 256 * 1024
HOOK = "tok-1234567890abcdef"


@dataclass
class ThrottledCdn:
    """A CDN on loopback that sends one video at about `rate` bytes a second."""

    video: bytes
    rate: float = 8 * 1024 * 1024
    base: str = ""
    hits: int = 0
    runner: web.AppRunner | None = None
    sockets: list[socket.socket] = field(default_factory=list)

    async def serve(self, request: web.Request) -> web.StreamResponse:
        self.hits += 1
        response = web.StreamResponse(headers={"Content-Type": "video/mp4"})
        response.content_length = len(self.video)
        await response.prepare(request)
        for start in range(0, len(self.video), CHUNK):
            await response.write(self.video[start : start + CHUNK])
            await asyncio.sleep(CHUNK / self.rate)
        return response

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self.serve)
        self.runner = web.AppRunner(app, handle_signals=False, access_log=None,
                                    shutdown_timeout=0.1)  # fmt: skip
        await self.runner.setup()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.sockets.append(sock)
        await web.SockSite(self.runner, sock).start()
        self.base = f"http://127.0.0.1:{sock.getsockname()[1]}"

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
        for sock in self.sockets:
            sock.close()


@pytest.fixture
async def cdn() -> AsyncIterator[ThrottledCdn]:
    running = ThrottledCdn(os.urandom(SIZE))
    await running.start()
    yield running
    await running.stop()


def write_config(tmp_path: Path) -> Path:
    config = tmp_path / "vidhook.toml"
    config.write_text(f"""
[store]
url = "sqlite:///{tmp_path / "vidhook.db"}"

[log]
format = "json"

[sources.vibegen]
provider = "vibegen"
tokens = ["{HOOK}"]

[[api_tokens]]
name = "ops"
token = "{ADMIN}"
scopes = ["read", "admin"]

[archive]
store = "file://{tmp_path / "videos"}"
allow_private = true
before_routing = false
""")
    return config


def parts(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.startswith(".part-")]


async def test_sigkill_mid_download_then_restart_completes_with_no_part_left(cdn, tmp_path):
    videos = tmp_path / "videos"
    server = ServeProcess(write_config(tmp_path), tmp_path / "serve.log")
    await server.start()
    try:
        body = json.dumps({"event": "task.completed", "task_id": "big-1", "status": "completed",
                           "video_url": f"{cdn.base}/v/big.mp4"}).encode()  # fmt: skip
        async with httpx.AsyncClient(base_url=server.url) as client:
            answer = await client.post(f"/hooks/vibegen/{HOOK}", content=body)
            assert answer.status_code == 200, answer.text
        event_id = answer.json()["id"]

        def half_written() -> bool:
            return any(p.stat().st_size > SIZE // 4 for p in parts(videos))

        await eventually(half_written, within=60, step=0.05)
        server.kill()
        assert parts(videos), "the killed download left its part, as a crash does"
        restarted = time.monotonic()
        await server.start()
        async with httpx.AsyncClient(base_url=server.url) as client:

            async def archived() -> bool:
                page = await client.get(f"/admin/archive?event={event_id}", headers=bearer())
                return page.json()["items"][0]["state"] == "archived"

            await eventually(archived, within=120, step=0.1)
        took = time.monotonic() - restarted
        print(f"\nrestart to archived: {took:.1f} s for {SIZE // 2**20} MiB")
        assert parts(videos) == []
        [kept] = [p for p in videos.rglob("*.mp4")]
        assert kept.stat().st_size == SIZE
        assert (
            hashlib.sha256(kept.read_bytes()).hexdigest() == hashlib.sha256(cdn.video).hexdigest()
        )
        assert cdn.hits == 2
    finally:
        server.stop()
