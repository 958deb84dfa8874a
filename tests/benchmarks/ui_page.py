"""The whole events page through the app, for ui_events.py: vidhook's app served by uvicorn on
loopback (no workers), logged in with an admin token, GET /ui/events with each filter. Server
time is taken by a thin ASGI wrapper, from the request's arrival to the last byte of the answer
(the template rendered, 50 rows); the round trip over loopback is printed beside it."""

from __future__ import annotations

import asyncio
import re
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import uvicorn

from vidhook.receiver.app import build_services, create_app
from vidhook.receiver.config import parse_settings

__all__ = ["time_pages"]

TOKEN = "bench-admin-token-0123456789"
ASGI = Callable[..., Awaitable[None]]


def _config(url: str, sources: list[str]) -> str:
    text = f'[store]\nurl = "{url}"\n\n[[api_tokens]]\nname = "bench"\ntoken = "{TOKEN}"\n'
    text += 'scopes = ["read", "admin"]\n'
    for name in sources:
        text += f'\n[sources.{name}]\nprovider = "vibegen"\ntokens = ["{TOKEN}"]\n'
    return text


class ServerTimes:
    """An ASGI wrapper that records how long each /ui/events request took in the app."""

    def __init__(self, app: ASGI) -> None:
        self.app = app
        self.laps: list[float] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != "/ui/events":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        await self.app(scope, receive, send)
        self.laps.append((time.perf_counter() - start) * 1000)


def _p(laps: list[float]) -> tuple[float, float]:
    laps = sorted(laps)
    return statistics.median(laps), laps[min(len(laps) - 1, int(len(laps) * 0.95))]


async def time_pages(url: str, sources: list[str], queries: dict[str, str], reps: int) -> None:
    """Print server and round-trip p50/p95 of GET /ui/events for each query."""
    settings = parse_settings(_config(url, sources), env={})
    services = build_services(settings)
    timed = ServerTimes(create_app(settings, services=services, run_workers=False))
    config = uvicorn.Config(timed, host="127.0.0.1", port=0, log_config=None, access_log=False)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        form = await client.get("/ui/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert csrf is not None
        await client.post("/ui/login", data={"token": TOKEN, "csrf_token": csrf.group(1)})
        print(f"  {'events page (GET /ui/events)':34} {'server p50/p95':>16} {'round trip':>16}")
        for name, query in queries.items():
            trips = []
            timed.laps.clear()
            for n in range(reps + 1):
                start = time.perf_counter()
                answer = await client.get(f"/ui/events?{query}")
                assert answer.status_code == 200, answer.text[:300]
                if n:  # the first warms the caches
                    trips.append((time.perf_counter() - start) * 1000)
            server_p = _p(timed.laps[1:])
            trip_p = _p(trips)
            server_text = f"{server_p[0]:7.2f}/{server_p[1]:<8.2f}"
            print(f"  {name:34} {server_text} {trip_p[0]:7.2f}/{trip_p[1]:<8.2f}", flush=True)
    server.should_exit = True
    await task
    await services.http.aclose()
