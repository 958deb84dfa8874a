"""Three `vidhook serve` processes sharing one PostgreSQL database behind no balancer: callbacks
spread over them (the same callback to two instances at once makes one event), every delivery
reaches a loopback HTTP sink exactly once, and when one instance is SIGKILLed with deliveries in
hand, the others send them once its leases expire."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn

from tests.conftest import fixture_json
from tests.pg import postgres_database

pytestmark = pytest.mark.slow

VIDHOOK = [sys.executable, "-m", "vidhook"]
TOKEN = "tok-multi-instance-0123456789"
# Lease = timeout + lease_margin = 8 s: long beside a send (<= 0.3 s), short for the test.
CONFIG = """
[store]
url = "{db}"

[log]
level = "warning"
format = "json"

[sources.vibegen]
provider = "vibegen"
tokens = ["{token}"]

[sinks.app]
type = "http"
url = "{sink}"
timeout = 5
lease_margin = 3
concurrency = 4

[[rules]]
name = "all"
sinks = ["app"]
"""


class RecordingSink:
    """An ASGI endpoint that notes each request's `webhook-id` on arrival and answers 200 after
    `delay` seconds (a slow sink keeps deliveries in flight)."""

    def __init__(self) -> None:
        self.received: list[str] = []
        self.delay = 0.0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        self.received.append(dict(scope["headers"])[b"webhook-id"].decode())
        await asyncio.sleep(self.delay)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _serve(config: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "VIDHOOK_CONFIG"}
    command = [*VIDHOOK, "serve", "--config", str(config), "--host", "127.0.0.1"]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*command, "--port", str(port)], stdout=out, stderr=subprocess.STDOUT, env=env
        )
    return process, f"http://127.0.0.1:{port}"


async def _until(check: Any, what: str, timeout: float = 45.0) -> None:
    """Wait for `await check()` to be true, polling; fail naming `what` after `timeout`."""
    for _ in range(int(timeout / 0.1)):
        if await check():
            return
        await asyncio.sleep(0.1)
    pytest.fail(f"gave up waiting for {what}")


async def _ready(client: httpx.AsyncClient, url: str, process: subprocess.Popen[bytes]) -> bool:
    assert process.poll() is None, f"vidhook on {url} exited with {process.returncode}"
    try:
        return (await client.get(f"{url}/readyz")).status_code == 200
    except httpx.TransportError:
        return False


def _callback(task_id: str) -> bytes:
    body = fixture_json("vibegen", "callback_completed")
    return json.dumps({**body, "task_id": task_id}).encode()


async def _send_pairs(client: httpx.AsyncClient, urls: list[str], tasks: list[str]) -> None:
    """Send each task's callback to two different instances at once; exactly one is news."""
    for n, task_id in enumerate(tasks):
        pair = [urls[n % len(urls)], urls[(n + 1) % len(urls)]]
        answers = await asyncio.gather(
            *(
                client.post(f"{url}/hooks/vibegen/{TOKEN}", content=_callback(task_id))
                for url in pair
            )
        )
        assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
        assert sorted(a.json()["duplicate"] for a in answers) == [False, True], task_id
        assert len({a.json()["id"] for a in answers}) == 1


@pytest.fixture
async def cluster(tmp_path):
    """A shared database, a recording sink, and three vidhook processes serving on it."""
    sink = RecordingSink()
    server = uvicorn.Server(
        uvicorn.Config(sink, host="127.0.0.1", port=0, log_config=None, lifespan="off")
    )
    serving = asyncio.create_task(server.serve())

    async def listening() -> bool:
        return bool(server.started)

    await _until(listening, "the sink to listen")
    sink_url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}/hook"
    processes: list[subprocess.Popen[bytes]] = []
    try:
        async with postgres_database() as db:
            config = tmp_path / "vidhook.toml"
            config.write_text(CONFIG.format(db=db, token=TOKEN, sink=sink_url))
            started = [_serve(config, tmp_path / f"vidhook-{n}.log") for n in range(3)]
            processes += [process for process, _ in started]
            try:
                yield db, sink, started
            finally:
                for process in processes:
                    if process.poll() is None:
                        process.terminate()
                for process in processes:
                    await asyncio.to_thread(process.wait, 20)
    finally:
        server.should_exit = True
        await serving


async def test_instances_share_the_work_and_take_over_from_a_killed_one(cluster):
    db, sink, started = cluster
    urls = [url for _, url in started]
    async with httpx.AsyncClient(timeout=20) as client:
        for process, url in started:
            await _until(lambda p=process, u=url: _ready(client, u, p), f"{url} to be ready")
        conn = await asyncpg.connect(db)
        try:
            await _normal_operation(client, conn, sink, urls)
            orphaned = await _kill_one_in_flight(client, conn, sink, urls, started[2][0])
            assert orphaned, "the killed instance held no lease"
            await _until(lambda: _delivered(conn, 66), "the others to deliver everything", 60)
            webhook_ids = {r[0] for r in await conn.fetch("SELECT webhook_id FROM deliveries")}
            assert set(sink.received) == webhook_ids
            resent = {w for w in sink.received if sink.received.count(w) > 1}
            assert resent <= orphaned  # only what the killed instance had in hand came twice
            assert await conn.fetchval("SELECT count(*) FROM events") == 66
        finally:
            await conn.close()


async def _normal_operation(client, conn, sink, urls) -> None:
    """Each callback twice, to two instances: one event each, each delivered once."""
    await _send_pairs(client, urls, [f"calm-{n}" for n in range(30)])
    await _until(lambda: _delivered(conn, 30), "30 deliveries")
    assert len(sink.received) == 30
    assert len(set(sink.received)) == 30
    assert await conn.fetchval("SELECT max(attempts) FROM deliveries") == 1
    assert await conn.fetchval("SELECT count(*) FROM events") == 30


async def _kill_one_in_flight(client, conn, sink, urls, victim) -> set[str]:
    """Slow the sink so deliveries stay in flight, SIGKILL `victim` while it holds some, and
    return the webhook ids of the deliveries it had leased."""
    sink.delay = 0.3
    await _send_pairs(client, urls, [f"busy-{n}" for n in range(36)])
    owner = f"%/{victim.pid}/%"
    held = "SELECT webhook_id FROM deliveries WHERE state = 'pending' AND lease_owner LIKE $1"
    await _until(lambda: conn.fetch(held, owner), "the victim to hold leases", 30)
    victim.send_signal(signal.SIGKILL)
    await asyncio.to_thread(victim.wait, 10)
    return {r[0] for r in await conn.fetch(held, owner)}


async def _delivered(conn: asyncpg.Connection, total: int) -> bool:
    done = await conn.fetchval("SELECT count(*) FROM deliveries WHERE state = 'delivered'")
    return bool(done == total)
