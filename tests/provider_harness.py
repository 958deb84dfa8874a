"""The fake provider and a vidhook that knows its own public URL, both on loopback sockets.

vidhook's callback URLs come from `server.public_url`, so its socket is bound before the
settings are read; the fake provider then calls back to the real address.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from tests.sink_servers import self_signed_tls
from vidhook.receiver.app import build_services, create_app
from vidhook.receiver.config import parse_settings
from vidhook.receiver.fake_provider import FakeProvider
from vidhook.receiver.services import Services
from vidhook.receiver.store.records import EventFilter, StoredEvent

API_KEY = "provider-key-1234"
ADMIN = "admin-token-0123456789"
SUBMITTER = "submit-token-0123456789"
READER = "read-token-0123456789"
HOOK = "hook-token-0123456789"

TOKENS = f"""
[[api_tokens]]
name = "ops"
token = "{ADMIN}"
scopes = ["read", "admin"]

[[api_tokens]]
name = "app"
token = "{SUBMITTER}"
scopes = ["submit"]

[[api_tokens]]
name = "viewer"
token = "{READER}"
scopes = ["read"]
"""


@dataclass
class Served:
    """An ASGI app served by uvicorn on a loopback socket."""

    url: str
    server: uvicorn.Server
    task: asyncio.Task[None]

    async def stop(self) -> None:
        self.server.should_exit = True
        await self.task


def bound_socket() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock


async def serve(app: Any, sock: socket.socket, *, tls: Path | None = None) -> Served:
    """Serve `app` on an already bound socket (with TLS from `tls/{cert,key}.pem`)."""
    options: dict[str, Any] = {}
    if tls is not None:
        options = {"ssl_certfile": str(tls / "cert.pem"), "ssl_keyfile": str(tls / "key.pem")}
    config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="auto", **options)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    port = sock.getsockname()[1]
    return Served(f"{'https' if tls else 'http'}://127.0.0.1:{port}", server, task)


@dataclass
class TaskVidhook:
    """A running vidhook: its public URL, its wiring, and a client that speaks to it."""

    url: str
    services: Services
    client: httpx.AsyncClient
    served: Served

    async def stop(self) -> None:
        await self.client.aclose()
        await self.served.stop()

    async def post(self, path: str, token: str, body: Any) -> httpx.Response:
        return await self.client.post(path, json=body, headers=bearer(token))

    async def events(self, source: str, task_id: str) -> list[StoredEvent]:
        where = EventFilter(source=source, task_id=task_id)
        return await self.services.store.list_events(where, 100)


def trusting(tls: Path) -> ssl.SSLContext:
    """A client TLS context that trusts the test certificate."""
    return ssl.create_default_context(cafile=str(tls / "cert.pem"))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def eventually(check: Callable[[], Awaitable[Any]], seconds: float = 20.0) -> Any:
    """Ask `check` until it answers something truthy; fail after `seconds`."""
    for _ in range(int(seconds / 0.05)):
        found = await check()
        if found:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"nothing after {seconds} s")


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakeProvider, str]]:
    """The fake provider on loopback, quick to finish tasks; and its URL."""
    provider = FakeProvider(delay=0.5, api_key=API_KEY, poll_interval=0.2)
    served = await serve(provider, bound_socket())
    yield provider, served.url
    await provider.close()
    await served.stop()


@pytest.fixture
def tls_dir(tmp_path: Path) -> Path:
    """A self-signed certificate for 127.0.0.1 in `cert.pem` and `key.pem`."""
    directory = tmp_path / "tls"
    directory.mkdir()
    self_signed_tls(directory)
    return directory


@pytest.fixture
async def start_vidhook(
    tmp_path: Path,
) -> AsyncIterator[Callable[..., Awaitable[TaskVidhook]]]:
    """Start vidhook from TOML text with `{public_url}`, `{db}` and `{dir}` filled in."""
    running: list[TaskVidhook] = []

    async def start(toml: str, *, tls: Path | None = None) -> TaskVidhook:
        sock = bound_socket()
        scheme = "https" if tls else "http"
        public_url = f"{scheme}://127.0.0.1:{sock.getsockname()[1]}"
        text = (
            f'[server]\npublic_url = "{public_url}"\n[store]\nurl = "sqlite:///{{db}}"\n'
            + TOKENS
            + toml
        )
        text = text.replace("{db}", str(tmp_path / "vidhook.db")).replace("{dir}", str(tmp_path))
        verify = trusting(tls) if tls else True
        client = httpx.AsyncClient(base_url=public_url, timeout=10, verify=verify)
        try:
            settings = parse_settings(text, env={})
            services = build_services(settings)
            served = await serve(create_app(settings, services=services), sock, tls=tls)
        except BaseException:
            sock.close()
            await client.aclose()
            raise
        vidhook = TaskVidhook(public_url, services, client, served)
        running.append(vidhook)
        return vidhook

    yield start
    for vidhook in reversed(running):
        if not vidhook.served.task.done():
            await vidhook.stop()
