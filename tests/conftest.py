"""Shared fixtures: a real vidhook on a loopback socket, over a real SQLite file."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn

from vidhook.receiver.app import build_services, create_app
from vidhook.receiver.config import Settings, parse_settings
from vidhook.receiver.services import Services
from vidhook.receiver.store import open_store

FIXTURES = Path(__file__).parent / "fixtures" / "providers"


def fixture_bytes(provider: str, name: str) -> bytes:
    """The raw bytes of one provider fixture file."""
    return (FIXTURES / provider / f"{name}.json").read_bytes()


def fixture_json(provider: str, name: str) -> dict[str, object]:
    """One provider fixture, decoded."""
    data: dict[str, object] = json.loads(fixture_bytes(provider, name))
    return data


@dataclass
class RunningVidhook:
    """A vidhook serving on loopback: its base URL, its wiring and a client for it."""

    url: str
    services: Services
    client: httpx.AsyncClient
    server: uvicorn.Server


async def start_vidhook(
    settings: Settings,
    *,
    provider_http: httpx.AsyncClient | None = None,
    config_path: str | None = None,
    run_workers: bool = True,
    clock: Callable[[], float] | None = None,
) -> tuple[RunningVidhook, Callable[[], Awaitable[None]]]:
    """Start vidhook in this event loop on a free port; return it and its stop function.
    `clock` replaces the wall clock for the services and the store."""
    timed = (
        {}
        if clock is None
        else {"clock": clock, "store": open_store(settings.store.url, clock=clock)}
    )
    services = build_services(settings, http=provider_http, config_path=config_path, **timed)  # type: ignore[arg-type]
    app = create_app(settings, services=services, run_workers=run_workers)
    # As `vidhook serve` runs it: X-Forwarded-For is each source's business, not uvicorn's.
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        log_config=None,
        access_log=False,
        proxy_headers=False,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    client = httpx.AsyncClient(base_url=url, timeout=10)

    async def stop() -> None:
        await client.aclose()
        server.should_exit = True
        await task
        if provider_http is None:
            await services.http.aclose()

    return RunningVidhook(url, services, client, server), stop


@pytest.fixture
async def vidhook_factory(
    tmp_path: Path,
) -> AsyncIterator[Callable[..., Awaitable[RunningVidhook]]]:
    """Start vidhook from TOML text; `{db}` and `{dir}` in the text are the test's paths."""
    stops: list[Callable[[], Awaitable[None]]] = []

    async def factory(toml: str, **kwargs: object) -> RunningVidhook:
        text = toml.replace("{db}", str(tmp_path / "vidhook.db")).replace("{dir}", str(tmp_path))
        if "[store]" not in text:
            text = f'[store]\nurl = "sqlite:///{tmp_path / "vidhook.db"}"\n' + text
        running, stop = await start_vidhook(parse_settings(text, env={}), **kwargs)  # type: ignore[arg-type]
        stops.append(stop)
        return running

    yield factory
    for stop in reversed(stops):
        await stop()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Name the folder of the dashboard's screenshots, so a CI log says where they are."""
    browser = sys.modules.get("browser")  # tests/browser.py, once a browser test imported it
    taken = browser.screenshots_taken() if browser else []
    if taken:
        folder = browser.screenshots_dir()
        terminalreporter.write_line(f"dashboard screenshots: {len(taken)} PNGs in {folder}")
