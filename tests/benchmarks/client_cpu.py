"""CPU per keep-alive POST for each HTTP client vidhook could deliver with.

Each client sends `--requests` POSTs of a ~600-byte event, `--concurrency` at a time over
keep-alive connections, to `sink.py` on the load core, and reads each answer the way the `http`
sink does. The client runs on the server core; the figure is this process's CPU time (user +
system) per POST after a warm-up, so it is the client's own cost, not the sink's. The clients are
measured in turn for `--rounds` rounds, each row is the median round, and the `vs first` column is
the ratio to the first client of the same run, so a busy neighbour shifts all rows alike.

Clients: `httpx-aiohttp` (httpx over aiohttp's connection pool and parser, as vidhook uses it),
`httpcore` (httpx's default transport), `aiohttp` (aiohttp's own API, no httpx layer), and
`http11` (the hand-written transport vidhook had before: give `--baseline` a checkout of a
commit that still has `receiver/http_transport.py`, e.g. one made with `git worktree add`).

Run: `python tests/benchmarks/client_cpu.py [--clients NAME ...] [--baseline CHECKOUT]`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import aiohttp
import httpx
import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import HERE, LOAD_CORE, SERVER_CORE, free_port, pinned, wait_for_port

BODY = b'{"task_id":"%08d","type":"task.completed","x":"' + b"a" * 500 + b'"}'
HEADERS = {"content-type": "application/json", "user-agent": "vidhook", "webhook-id": "msg_1"}
Send = Callable[[int], Awaitable[None]]


def httpx_sender(client: httpx.AsyncClient, url: str) -> Send:
    """POST as the `http` sink does: stream the answer and read an excerpt of it."""
    from vidhook.routes.sinks.http import post

    async def send(number: int) -> None:
        answer = await post(client, url, BODY % number, HEADERS, timeout=30)
        assert answer.status_code == 200

    return send


def aiohttp_sender(session: aiohttp.ClientSession, url: str) -> Send:
    async def send(number: int) -> None:
        async with session.post(url, data=BODY % number, headers=HEADERS) as response:
            await response.content.read(2000)
            assert response.status == 200

    return send


def open_client(name: str, url: str) -> tuple[Send, Callable[[], Awaitable[None]]]:
    """The sender for one client, and how to close it."""
    if name == "aiohttp":
        session = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())
        return aiohttp_sender(session, url), session.close
    if name == "httpx-aiohttp":
        from vidhook.receiver.http_client import shared_client

        client = shared_client()
    elif name == "httpcore":
        client = httpx.AsyncClient()
    elif name == "http11":
        from vidhook.receiver.http_transport import Http11Transport  # type: ignore[import-not-found]

        client = httpx.AsyncClient(transport=Http11Transport())
    else:
        raise SystemExit(f"unknown client {name!r}")
    return httpx_sender(client, url), client.aclose


async def run_client(name: str, url: str, requests: int, concurrency: int) -> float:
    """Microseconds of this process's CPU per POST, after a warm-up of one batch each."""
    send, close = open_client(name, url)
    warm_up = iter(range(concurrency * 20))
    await asyncio.gather(*(_send_all(send, warm_up) for _ in range(concurrency)))
    start = time.process_time()
    numbers = iter(range(requests))
    await asyncio.gather(*(_send_all(send, numbers) for _ in range(concurrency)))
    used = time.process_time() - start
    await close()
    return used / requests * 1e6


async def _send_all(send: Send, numbers: Iterator[int]) -> None:
    """Send the next number until none is left: `concurrency` of these share one iterator."""
    for number in numbers:
        await send(number)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--clients", nargs="+", default=["httpx-aiohttp", "httpcore", "aiohttp", "http11"]
    )
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline", help="a checkout that has the http11 transport")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:  # one measurement in a fresh process, pinned by the parent
        print(uvloop.run(run_client(args.child, args.url, args.requests, args.concurrency)))
        return 0
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "sink.log"
        sink_command = [sys.executable, str(HERE / "sink.py"), "--port", str(port)]
        with log.open("wb") as out:
            sink = subprocess.Popen(
                pinned(LOAD_CORE, [*sink_command, "--out", os.devnull]), stdout=out, stderr=out
            )
        try:
            wait_for_port(port, sink, log, 10)
            figures = measure(args, f"http://127.0.0.1:{port}/hook")
        finally:
            sink.terminate()
            sink.wait()
    first = statistics.median(figures[args.clients[0]])
    print(f"{'client':<15} {'CPU us/POST':>12} {'vs first':>9}   rounds")
    for name, values in figures.items():
        median = statistics.median(values)
        rounds = " ".join(f"{v:.0f}" for v in values)
        print(f"{name:<15} {median:>12.1f} {median / first:>9.2f}   {rounds}")
    return 0


def measure(args: argparse.Namespace, url: str) -> dict[str, list[float]]:
    figures: dict[str, list[float]] = {name: [] for name in args.clients}
    for _ in range(args.rounds):
        for name in args.clients:
            command = [sys.executable, __file__, "--child", name, "--url", url]
            command += ["--requests", str(args.requests), "--concurrency", str(args.concurrency)]
            env = dict(os.environ)
            if name == "http11" and args.baseline:
                env["PYTHONPATH"] = args.baseline
            done = subprocess.run(
                pinned(SERVER_CORE, command), capture_output=True, text=True, check=False, env=env
            )
            if done.returncode != 0:
                print(f"{name}: failed\n{done.stderr[-2000:]}", file=sys.stderr)
                figures.pop(name, None)
                continue
            figures[name].append(float(done.stdout.strip().splitlines()[-1]))
    return {name: values for name, values in figures.items() if values}


if __name__ == "__main__":
    raise SystemExit(main())
