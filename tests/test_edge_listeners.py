"""`server.internal_port`: admin, metrics, schema and submit only on the internal listener,
whatever spelling of their paths reaches the public one; hooks and health on both."""

from __future__ import annotations

import asyncio
import signal
import socket
from pathlib import Path

import httpx
import pytest
from drive import HOOK_PATH, SOURCE_CONFIG, eventually, vibegen_callback
from raw_http import exchange, parse_answer, read_answer
from serve_process import ServeProcess
from sink_servers import free_port

TOKEN = "admin-token-0123456789"

PRIVATE_SPELLINGS = [
    "/metrics", "/metrics/", "/metrics%2F", "//metrics", "/./metrics", "/hooks/../metrics",
    "/admin/events", "//admin/events", "/admin/../admin/events", "/admin%2Fevents",
    "/schema", "/schema/", "/schema/openapi.json", "/v1/submit/vibegen", "/ui",
    "/ui/login", "/ui/events", "//ui/login", "/ui/static/vidhook.css",
]  # fmt: skip


@pytest.fixture
async def two_listeners(tmp_path: Path) -> tuple[ServeProcess, int]:
    """A `vidhook serve` with an internal listener; the process and the internal port."""
    internal = free_port()
    config = tmp_path / "vidhook.toml"
    config.write_text(
        f"[server]\ninternal_port = {internal}\n"
        f'[store]\nurl = "sqlite:///{tmp_path / "vidhook.db"}"\n'
        "[log]\nformat = 'json'\n"
        f'[[api_tokens]]\nname = "ops"\ntoken = "{TOKEN}"\nscopes = ["read", "admin", "submit"]\n'
        + SOURCE_CONFIG
    )
    server = ServeProcess(config, tmp_path / "serve.log")
    await server.start()
    yield server, internal
    server.stop()


def get(port: int, path: str, method: str = "GET") -> bytes:
    """A request with its path exactly as written, with the admin token."""
    head = f"{method} {path} HTTP/1.1\r\nHost: vidhook\r\nAuthorization: Bearer {TOKEN}\r\n"
    return exchange(port, (head + "Content-Length: 0\r\nConnection: close\r\n\r\n").encode())


async def test_private_paths_are_not_found_on_the_public_port(
    two_listeners: tuple[ServeProcess, int],
) -> None:
    server, _ = two_listeners
    for path in PRIVATE_SPELLINGS:
        for method in ("GET", "POST"):
            raw = await asyncio.to_thread(get, server.port, path, method)
            answer = parse_answer(raw)
            assert answer.status in (404, 405), (path, method, answer)
            assert set(answer.body["error"]) == {"code", "message"}
            assert b"vidhook_" not in raw  # no metrics leaked


async def test_the_internal_port_serves_everything(two_listeners: tuple[ServeProcess, int]) -> None:
    _, internal = two_listeners
    metrics = await asyncio.to_thread(get, internal, "/metrics")
    assert parse_answer(metrics).status == 200
    assert b"vidhook_" in metrics
    assert parse_answer(await asyncio.to_thread(get, internal, "/admin/events")).status == 200
    assert (
        parse_answer(await asyncio.to_thread(get, internal, "/schema/openapi.json")).status == 200
    )
    assert parse_answer(await asyncio.to_thread(get, internal, "/ui/login")).status == 200


async def test_hooks_and_health_answer_on_both_ports(
    two_listeners: tuple[ServeProcess, int],
) -> None:
    server, internal = two_listeners
    for port in (server.port, internal):
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            assert (await client.get("/healthz")).status_code == 200
            assert (await client.get("/readyz")).status_code == 200
            stored = await client.post(HOOK_PATH, content=vibegen_callback(f"task-{port}"))
            assert stored.status_code == 200
    # One store behind both: the internal listener lists what came in on the public one.
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{internal}") as client:
        events = await client.get("/admin/events", headers={"Authorization": f"Bearer {TOKEN}"})
    assert {e["event"]["task_id"] for e in events.json()["items"]} == {
        f"task-{server.port}",
        f"task-{internal}",
    }


async def test_start_and_stop_are_logged_with_both_addresses(
    two_listeners: tuple[ServeProcess, int],
) -> None:
    server, internal = two_listeners
    server.stop()
    records = server.log_records()
    listening = [r for r in records if r["event"] == "vidhook listening"]
    stopped = [r for r in records if r["event"] == "vidhook stopped"]
    assert listening[0]["public"] == f"127.0.0.1:{server.port}"
    assert listening[0]["internal"] == f"127.0.0.1:{internal}"
    assert stopped[0]["public"] == listening[0]["public"]


async def test_sigterm_stops_accepting_and_lets_a_callback_in_flight_finish(
    two_listeners: tuple[ServeProcess, int],
) -> None:
    server, _ = two_listeners
    body = vibegen_callback("task-in-flight")
    head = (
        f"POST {HOOK_PATH} HTTP/1.1\r\nHost: vidhook\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", server.port)) as in_flight:
        in_flight.sendall(head + body[:10])
        server.signal(signal.SIGTERM)

        async def refuses_new_connections() -> bool:
            try:
                socket.create_connection(("127.0.0.1", server.port), timeout=1).close()
            except OSError:
                return True
            return False

        await eventually(refuses_new_connections, within=10)
        in_flight.sendall(body[10:])
        answer = parse_answer(await asyncio.to_thread(read_answer, in_flight))
    assert answer.status == 200
    assert answer.body["duplicate"] is False
    assert server.process is not None
    assert await asyncio.to_thread(server.process.wait, 20) == 0
    assert [r for r in server.log_records() if r["event"] == "vidhook stopped"]
