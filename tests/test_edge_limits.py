"""The public edge's limits, tried as an attacker would against a real `vidhook serve`:
oversized heads, heads and bodies that never finish, more connections than the cap, and
requests llhttp cannot parse. Each refusal is JSON, and so is its log line."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import httpx
from drive import HOOK_PATH, SOURCE_CONFIG, eventually, vibegen_callback
from raw_http import exchange, parse_answer, read_answer, send_until_closed
from serve_process import ServeProcess

FLOOD_BYTES = 64 * 1024 * 1024  # per connection, as in the report that found it
FLOODS = 4


def serve(tmp_path: Path, server_keys: str = "", open_files: int | None = None) -> ServeProcess:
    """A `vidhook serve` with the vibegen source and these `[server]` keys."""
    config = tmp_path / "vidhook.toml"
    store = f'[store]\nurl = "sqlite:///{tmp_path / "vidhook.db"}"\n'
    config.write_text(f"[server]\n{server_keys}\n{store}[log]\nformat = 'json'\n{SOURCE_CONFIG}")
    return ServeProcess(config, tmp_path / "serve.log", open_files=open_files)


def callback_head(extra: bytes = b"", length: int = 0) -> bytes:
    """The head of a POST to the vibegen hook, with extra header lines."""
    return (
        f"POST {HOOK_PATH} HTTP/1.1\r\nHost: vidhook\r\nContent-Type: application/json\r\n"
        f"Content-Length: {length}\r\n"
    ).encode() + extra


def refusals(server: ServeProcess, status: int) -> list[dict[str, object]]:
    """The server's log records of refusals with this status."""
    return [
        r
        for r in server.log_records()
        if r.get("event") == "request refused" and r.get("status") == status
    ]


def flood(port: int) -> int:
    """Send one header value of up to FLOOD_BYTES; the bytes the server took before closing."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        chunk = b"a" * 65536
        return send_until_closed(sock, callback_head(b"X-Flood: "), chunk, FLOOD_BYTES)


async def test_header_floods_are_cut_off_and_do_not_starve_healthz(tmp_path: Path) -> None:
    server = serve(tmp_path)
    await server.start()
    try:
        rss_before = server.peak_rss()
        floods = [asyncio.create_task(asyncio.to_thread(flood, server.port)) for _ in range(FLOODS)]
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            answered = 0
            while not all(task.done() for task in floods) or answered == 0:
                answered += (await client.get("/healthz")).status_code == 200
        sent = [task.result() for task in floods]
        # Each flood is closed after about max_header_bytes, not read to its end.
        assert all(taken < FLOOD_BYTES // 4 for taken in sent), sent
        assert len(refusals(server, 431)) == FLOODS
        assert server.peak_rss() - rss_before < 32 * 1024 * 1024
    finally:
        server.stop()


async def test_an_8_mb_header_on_a_valid_callback_is_refused_and_not_stored(
    tmp_path: Path,
) -> None:
    server = serve(tmp_path)
    await server.start()
    try:
        body = vibegen_callback("task-big-header")
        head = callback_head(b"X-Big: " + b"b" * (8 * 1024 * 1024) + b"\r\n\r\n", len(body))
        with socket.create_connection(("127.0.0.1", server.port)) as sock:
            send_until_closed(sock, b"", head + body, len(head + body))
            raw = read_answer(sock)
        if raw:  # the answer can be lost to the reset of a connection closed mid-upload
            answer = parse_answer(raw)
            assert answer.status == 431
            assert answer.body["error"]["code"] == "headers_too_large"
        assert len(refusals(server, 431)) == 1
        async with httpx.AsyncClient(base_url=server.url) as client:
            stored = await client.post(HOOK_PATH, content=body)
        assert stored.status_code == 200
        assert stored.json()["duplicate"] is False  # the refused one was never stored
    finally:
        server.stop()


async def test_a_head_just_over_the_limit_is_answered_431_in_json(tmp_path: Path) -> None:
    server = serve(tmp_path, "max_header_bytes = 8192")
    await server.start()
    try:
        raw = await asyncio.to_thread(
            exchange, server.port, callback_head(b"X-Big: " + b"c" * 9000 + b"\r\n\r\n")
        )
        answer = parse_answer(raw)
        assert answer.status == 431
        assert "server.max_header_bytes" in answer.body["error"]["message"]
    finally:
        server.stop()


def hold_unfinished_heads(port: int, count: int) -> list[socket.socket]:
    """`count` connections that each send a request line and one header, then nothing."""
    held = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: vidhook\r\n")
        held.append(sock)
    return held


async def test_unfinished_heads_are_closed_after_the_header_timeout(tmp_path: Path) -> None:
    server = serve(tmp_path, 'header_timeout = "2s"', open_files=256)
    await server.start()
    held = await asyncio.to_thread(hold_unfinished_heads, server.port, 300)
    try:
        answers = [parse_answer(await asyncio.to_thread(read_answer, sock)) for sock in held]
        # Each is closed: timed out (408), or refused at the connection cap (503).
        assert {answer.status for answer in answers} <= {408, 503}
        assert any(answer.status == 408 for answer in answers)
        assert all(answer.body["error"]["code"] for answer in answers)

        async def healthz() -> bool:
            async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
                try:
                    return (await client.get("/healthz")).status_code == 200
                except httpx.TransportError:
                    return False

        await eventually(healthz, within=30)
    finally:
        for sock in held:
            sock.close()
        server.stop()


async def test_an_unfinished_body_is_answered_408_after_the_body_timeout(tmp_path: Path) -> None:
    server = serve(tmp_path, 'body_timeout = "1s"')
    await server.start()
    try:
        raw = await asyncio.to_thread(exchange, server.port, callback_head(b"\r\n", 200) + b"{")
        answer = parse_answer(raw)
        assert answer.status == 408
        assert "server.body_timeout" in answer.body["error"]["message"]
    finally:
        server.stop()


async def test_past_the_connection_cap_a_connection_gets_503_with_retry_after(
    tmp_path: Path,
) -> None:
    server = serve(tmp_path, "max_connections = 4\nheader_timeout = 60")
    await server.start()
    held = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(4)]
    try:
        with socket.create_connection(("127.0.0.1", server.port)) as extra:
            answer = parse_answer(await asyncio.to_thread(read_answer, extra))
        assert answer.status == 503
        assert answer.headers["retry-after"] == "1"
        assert answer.body["error"]["code"] == "too_many_connections"
        held.pop().close()

        async def healthz() -> bool:
            async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
                return (await client.get("/healthz")).status_code == 200

        await eventually(healthz, within=10)
    finally:
        for sock in held:
            sock.close()
        server.stop()


async def test_a_malformed_request_line_gets_a_json_400_and_a_json_log_line(
    tmp_path: Path,
) -> None:
    server = serve(tmp_path)
    await server.start()
    try:
        raw = await asyncio.to_thread(exchange, server.port, b"NOT HTTP AT ALL\r\n\r\n")
        answer = parse_answer(raw)
        assert answer.status == 400
        assert answer.body["error"]["code"] == "bad_request"
        assert len(refusals(server, 400)) == 1
    finally:
        server.stop()
    lines = [line for line in server.log.read_text().splitlines() if line.strip()]
    assert lines
    assert all(line.startswith("{") for line in lines), lines


def _keep_alive_exchange(sock: socket.socket, task_id: str) -> int:
    """One callback on an open connection; the answer's status."""
    body = vibegen_callback(task_id)
    sock.sendall(callback_head(b"\r\n", len(body)) + body)
    raw = b""
    while b"\r\n\r\n" not in raw:
        raw += sock.recv(65536)
    head, _, answer = raw.partition(b"\r\n\r\n")
    while len(answer) < int(parse_answer(head).headers["content-length"]):
        answer += sock.recv(65536)
    return parse_answer(head).status


def _seconds_until_closed(sock: socket.socket) -> float:
    start = time.monotonic()
    sock.settimeout(10)
    while sock.recv(65536):
        pass
    return time.monotonic() - start


async def test_an_idle_keep_alive_connection_is_closed_after_the_keepalive_timeout(
    tmp_path: Path,
) -> None:
    server = serve(tmp_path, 'keepalive_timeout = "1s"\nheader_timeout = "3s"')
    await server.start()
    try:
        with socket.create_connection(("127.0.0.1", server.port)) as sock:
            # Busy for longer than either timeout: each request moves the deadlines on.
            for number in range(8):
                assert await asyncio.to_thread(_keep_alive_exchange, sock, f"ka-{number}") == 200
                await asyncio.sleep(0.5)
            idle = await asyncio.to_thread(_seconds_until_closed, sock)
        assert 0.4 <= idle <= 2.5, idle
    finally:
        server.stop()


def _pipelined_then_trickled(port: int) -> tuple[int, bytes]:
    """A whole callback and the start of a second head in one send, then the second head a
    byte every 0.4 s for up to 6 s: the first answer's status and all that followed it."""
    body = vibegen_callback("ka-trickle")
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(callback_head(b"\r\n", len(body)) + body + callback_head())
        status = int(sock.recv(65536).split(b" ", 2)[1])
        sock.settimeout(0.4)
        rest = b""
        for _ in range(15):
            try:
                sock.sendall(b"X")
                chunk = sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                break
            if not chunk:
                break
            rest += chunk
        return status, rest


async def test_a_head_trickled_after_a_pipelined_request_is_cut_off_at_the_header_timeout(
    tmp_path: Path,
) -> None:
    server = serve(tmp_path, 'keepalive_timeout = "1s"\nheader_timeout = "2s"')
    await server.start()
    try:
        status, rest = await asyncio.to_thread(_pipelined_then_trickled, server.port)
        assert status == 200
        assert parse_answer(rest).status == 408
    finally:
        server.stop()
