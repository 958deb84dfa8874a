"""An open-loop load generator: POSTs vibegen callbacks at a fixed rate, whatever the answers.

wrk is closed-loop (it sends the next request only when an answer came back), so a slow server
gets less load and its latency looks better than it is. This sends request i at start + i/rate
on a pool of keep-alive connections, opening another when every connection is busy, and
records for each task id the intended send time, the actual one and when the answer came.

Output (`--out`): JSON `{"opened": connections, "results": {task_id: [intended, sent,
answered, status]}}`, unix times; status 0 is a connection error.

Run: `python openloop.py --url http://127.0.0.1:PORT/hooks/SOURCE/TOKEN --rate 500
--duration 20 --out FILE`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from urllib.parse import urlsplit

_BODY = (
    '{{"event": "task.completed", "task_id": "{task_id}", "status": "completed", '
    '"video_url": "https://cdn.example.com/videos/abc123.mp4", '
    '"created_at": "2025-03-10T10:00:00Z", "completed_at": "2025-03-10T10:02:30Z"}}'
)

Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class Generator:
    """Sends the requests of one run and keeps their timings."""

    def __init__(self, url: str, prefix: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.path = parts.path
        self.prefix = prefix
        self.idle: list[Connection] = []
        self.opened = 0
        self.results: dict[str, list[float]] = {}

    def request(self, task_id: str) -> bytes:
        body = _BODY.format(task_id=task_id).encode()
        head = (
            f"POST {self.path} HTTP/1.1\r\nhost: {self.host}:{self.port}\r\n"
            f"content-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
        )
        return head.encode() + body

    async def send(self, number: int, intended: float) -> None:
        task_id = f"{self.prefix}-{number}"
        sent, status = time.time(), 0
        try:
            # A pooled connection the server closed while idle fails before any answer; like
            # any HTTP client, send once more on a fresh connection then.
            for reuse in (bool(self.idle), False):
                connection = self.idle.pop() if reuse else await self.connect()
                sent = time.time()
                try:
                    status = await self.exchange(connection, self.request(task_id))
                    break
                except (asyncio.IncompleteReadError, ConnectionError):
                    if not reuse:
                        raise
        except (OSError, asyncio.IncompleteReadError, ValueError):
            status = 0
        self.results[task_id] = [intended, sent, time.time(), status]

    async def connect(self) -> Connection:
        self.opened += 1
        return await asyncio.open_connection(self.host, self.port)

    async def exchange(self, connection: Connection, request: bytes) -> int:
        """Send one request, read its answer, and pool the connection again."""
        reader, writer = connection
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        status, length = _status_and_length(head)
        await reader.readexactly(length)
        self.idle.append(connection)
        return status

    async def run(self, rate: float, duration: float) -> None:
        loop = asyncio.get_running_loop()
        total = int(rate * duration)
        start_loop, start_wall = loop.time() + 0.1, time.time() + 0.1
        tasks: set[asyncio.Task[None]] = set()
        for number in range(total):
            delay = start_loop + number / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(self.send(number, start_wall + number / rate))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.wait(tasks, timeout=60)
        for _, writer in self.idle:
            writer.close()


def _status_and_length(head: bytes) -> tuple[int, int]:
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            return status, int(value.strip())
    return status, 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--prefix", default="e2e")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    generator = Generator(args.url, args.prefix)
    try:
        import uvloop

        uvloop.run(generator.run(args.rate, args.duration))
    except ImportError:
        asyncio.run(generator.run(args.rate, args.duration))
    with open(args.out, "w", encoding="utf-8") as file:
        json.dump({"opened": generator.opened, "results": generator.results}, file)


if __name__ == "__main__":
    main()
