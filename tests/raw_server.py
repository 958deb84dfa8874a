"""A loopback HTTP server that writes crafted answers byte for byte, for testing clients."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["OK", "RawServer", "Reader", "Writer", "answering"]

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

Reader = asyncio.StreamReader
Writer = asyncio.StreamWriter


class RawServer:
    """A loopback server that runs `handler` on each accepted connection, counts the
    connections and records each request head it reads with `read_request`."""

    def __init__(
        self,
        handler: Callable[[RawServer, Reader, Writer], Awaitable[None]],
        tls: ssl.SSLContext | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self.handler = handler
        self.tls = tls
        self.host = host
        self.connections = 0
        self.requests: list[bytes] = []
        self.bodies: list[bytes] = []
        self.closed_by_client = asyncio.Event()  # a client closed a connection first
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"{'https' if self.tls else 'http'}://{self.host}:{port}"

    async def __aenter__(self) -> RawServer:
        self._server = await asyncio.start_server(self._serve, self.host, 0, ssl=self.tls)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def read_request(self, reader: Reader) -> bool:
        """Read one request; False if the client closed the connection instead."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            if not exc.partial:
                self.closed_by_client.set()
            return False
        self.requests.append(head)
        length = 0
        for line in head.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        self.bodies.append(await reader.readexactly(length))
        return True

    async def _serve(self, reader: Reader, writer: Writer) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        try:
            await self.handler(self, reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        except asyncio.CancelledError:  # stopped by __aexit__: end quietly
            pass
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError, ssl.SSLError):
                await writer.wait_closed()


def answering(*answers: bytes) -> Callable[[RawServer, Reader, Writer], Awaitable[None]]:
    """A handler that answers each request on a connection with the next of `answers` (the
    last one repeats), then waits for the next request; an answer of b"" closes instead."""

    async def handler(server: RawServer, reader: Reader, writer: Writer) -> None:
        index = 0
        while await server.read_request(reader):
            answer = answers[min(index, len(answers) - 1)]
            index += 1
            if not answer:
                return
            writer.write(answer)
            await writer.drain()

    return handler
