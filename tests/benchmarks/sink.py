"""A minimal HTTP sink for the end-to-end benchmark: answers 200 to every POST and records
when each event's task id arrived.

`GET /stats` answers `{"received": N, "unique": U}`; on SIGTERM or SIGINT the receipts are
written to `--out` as JSON `{task_id: [first_receipt_unix_time, count]}` and the process exits.

Run: `python sink.py --port PORT --out FILE`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import time

_OK = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-type: application/json\r\n\r\n{}"


class Receipts:
    """First receipt time and count per task id."""

    def __init__(self) -> None:
        self.first: dict[str, float] = {}
        self.count: dict[str, int] = {}
        self.total = 0

    def record(self, body: bytes, at: float) -> None:
        try:
            task_id = str(json.loads(body)["task_id"])
        except (ValueError, KeyError, TypeError):
            task_id = "<unreadable>"
        self.total += 1
        self.first.setdefault(task_id, at)
        self.count[task_id] = self.count.get(task_id, 0) + 1


async def _serve_connection(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, receipts: Receipts
) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            at = time.time()
            lines = head.decode("latin-1").split("\r\n")
            method, path = lines[0].split(" ")[:2]
            length = 0
            for line in lines[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            body = await reader.readexactly(length) if length else b""
            if method == "GET" and path == "/stats":
                stats = json.dumps({"received": receipts.total, "unique": len(receipts.first)})
                data = stats.encode()
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                    + f"content-length: {len(data)}\r\n\r\n".encode()
                    + data
                )
            else:
                receipts.record(body, at)
                writer.write(_OK)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
        pass
    finally:
        writer.close()


async def serve(port: int, out: str) -> None:
    receipts = Receipts()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    server = await asyncio.start_server(
        lambda r, w: _serve_connection(r, w, receipts), "127.0.0.1", port, backlog=1024
    )
    async with server:
        await stop.wait()
    with open(out, "w", encoding="utf-8") as file:
        json.dump({k: [v, receipts.count[k]] for k, v in receipts.first.items()}, file)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.run(serve(args.port, args.out))
    except ImportError:
        asyncio.run(serve(args.port, args.out))


if __name__ == "__main__":
    main()
