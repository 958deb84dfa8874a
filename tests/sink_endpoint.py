"""A stateful HTTP sink endpoint on loopback for the delivery tests.

Unlike the scripted `HttpServer`, it decides each answer by calling a function the test can swap
at any time, counts the requests it is answering at once, and can listen on a chosen port, so a
test can take it down (connection refused) and bring it back on the same URL.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from sink_servers import Received, Reply

__all__ = ["Endpoint", "answer_ok"]


def answer_ok(_: Received) -> Reply:
    """Answer every request 200."""
    return Reply()


class Endpoint:
    """An HTTP/1.1 endpoint: `answer(request)` picks each Reply. Requests whose answer was sent
    are in `answered` with their status; `peak` is the most requests answered at once."""

    def __init__(self, answer: Callable[[Received], Reply] = answer_ok, port: int = 0) -> None:
        self.answer = answer
        self.port = port
        self.received: list[Received] = []
        self.answered: list[tuple[Received, int]] = []
        self.in_flight = 0
        self.peak = 0
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[Any]] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def delivered(self, header: str = "webhook-id") -> list[str]:
        """The `header` value of every request answered 2xx, in order."""
        return [r.headers[header] for r, status in self.answered if 200 <= status < 300]

    async def start(self) -> None:
        """Listen (again) on the endpoint's port."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening and drop the connections being answered."""
        if self._server is None:
            return
        self._server.close()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None

    async def __aenter__(self) -> Endpoint:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            request = await _read(reader)
            self.received.append(request)
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            try:
                reply = self.answer(request)
                await asyncio.sleep(reply.delay)
            finally:
                self.in_flight -= 1
            extra = "".join(f"{k}: {v}\r\n" for k, v in reply.headers.items())
            writer.write(
                f"HTTP/1.1 {reply.status} X\r\nContent-Length: {len(reply.body)}\r\n"
                f"Connection: close\r\n{extra}\r\n".encode("latin-1")
                + reply.body
            )
            await writer.drain()
            self.answered.append((request, reply.status))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._handlers.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


async def _read(reader: asyncio.StreamReader) -> Received:
    head = await reader.readuntil(b"\r\n\r\n")
    request_line, *lines = head.decode("latin-1").split("\r\n")
    method, path, _ = request_line.split(" ", 2)
    headers = {k.lower(): v for k, v in (line.split(": ", 1) for line in lines if line)}
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return Received(method, path, headers, body)
