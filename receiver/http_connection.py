"""One HTTP/1.1 client connection over asyncio, and the body of an answer read from it.

`Connection` is an `asyncio.Protocol` holding the bytes received and not yet read; the request
in progress reads them through `read_head`, `read_until` and `read_some`, which wait for more
with the request's read timeout. `ResponseBody` reads a body by its framing (a length, chunks,
or until the server closes) and says on close whether the connection can serve another request.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import cast

import httpx

from vidhook.receiver.http11 import (
    MAX_HEAD_BYTES,
    MAX_INTERIM_ANSWERS,
    Head,
    parse_chunk_size,
    parse_field,
    parse_head,
)

__all__ = ["Connection", "Origin", "ResponseBody", "describe"]

Origin = tuple[str, str, int]  # scheme, host, port
# Bytes handed to httpx at a time, and how much unread answer makes us stop reading the socket.
READ_CHUNK = 64 * 1024
PAUSE_READING_AT = 256 * 1024


class Connection(asyncio.Protocol):
    """One connection to an origin: the bytes received and not yet read, and a way to wait for
    more. At most one request uses it at a time, so one waiter is enough."""

    _transport: asyncio.Transport  # set by connection_made, before anything else runs

    def __init__(self, origin: Origin) -> None:
        self.origin = origin
        self.answered = False  # a byte of the current request's answer has arrived
        self.expiry: asyncio.TimerHandle | None = None  # set while idle in the pool
        # Seconds a read or a write may wait, from the current request's timeouts (None: no limit).
        self.read_timeout: float | None = None
        self.write_timeout: float | None = None
        self._loop = asyncio.get_running_loop()
        self._buffer = bytearray()
        self._eof = False
        self._lost: Exception | None = None
        self._closed = False
        self._reading_paused = False
        self._writing_paused = False
        self._waiter: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        self.answered = True
        if len(self._buffer) > PAUSE_READING_AT and not self._reading_paused:
            self._reading_paused = True
            self._transport.pause_reading()
        self._wake()

    def eof_received(self) -> None:
        self._eof = True
        self._wake()

    def connection_lost(self, exc: Exception | None) -> None:
        self._eof = self._closed = True
        self._lost = exc
        self._wake()

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        self._wake()

    def idle_and_open(self) -> bool:
        """True if nothing arrived since the last answer and the connection is still up."""
        return not (self._buffer or self._eof or self._closed or self._transport.is_closing())

    def close(self) -> None:
        """Drop the connection at once: an abandoned answer is not worth a graceful close."""
        if self.expiry is not None:
            self.expiry.cancel()
            self.expiry = None
        if not self._closed:
            self._closed = True
            self._transport.abort()

    async def send(self, data: bytes) -> None:
        """Write one request: WriteError if the connection is gone, WriteTimeout if it stays
        full for `write_timeout` seconds."""
        self.answered = False
        if self._eof or self._closed or self._transport.is_closing():
            raise httpx.WriteError("the server closed the connection before the request went out")
        try:
            self._transport.write(data)
        except (OSError, RuntimeError) as exc:
            raise httpx.WriteError(describe(exc)) from None
        while self._writing_paused and not self._closed:
            try:
                await self._wait(self.write_timeout)
            except TimeoutError:
                raise httpx.WriteTimeout(f"could not write for {self.write_timeout:g}s") from None
        if self._lost is not None and not self._buffer:  # an answer that came early is read
            raise httpx.WriteError(describe(self._lost))

    async def read_head(self, method: str) -> Head:
        """The head of the final answer, skipping interim (1xx) ones."""
        for _ in range(MAX_INTERIM_ANSWERS + 1):
            raw = await self.read_until(b"\r\n\r\n", MAX_HEAD_BYTES)
            if raw is None:
                if self._buffer:
                    raise httpx.RemoteProtocolError("server closed the connection inside a head")
                raise httpx.RemoteProtocolError("server closed the connection without answering")
            head = parse_head(raw, method)
            if head.status >= 200:
                return head
        raise httpx.RemoteProtocolError(f"more than {MAX_INTERIM_ANSWERS} interim (1xx) answers")

    async def read_until(self, delimiter: bytes, limit: int) -> bytes | None:
        """The bytes up to and including `delimiter`, or None if the stream ends first (what
        arrived stays unread). RemoteProtocolError if it is not within `limit` bytes."""
        start = 0
        while (index := self._buffer.find(delimiter, start)) < 0 and len(self._buffer) <= limit:
            start = max(0, len(self._buffer) - len(delimiter) + 1)
            if not await self._receive():
                return None
        end = index + len(delimiter)
        if index < 0 or end > limit:
            raise httpx.RemoteProtocolError(f"answer has a head or line over {limit} bytes")
        return self._take(end)

    async def read_some(self, limit: int) -> bytes:
        """Up to `limit` bytes, waiting until at least one arrives; b"" at the end of the stream."""
        while not self._buffer:
            if not await self._receive():
                return b""
        return self._take(min(limit, len(self._buffer)))

    async def _receive(self) -> bool:
        """Wait for more bytes; False if none will come, ReadError if the connection broke."""
        if self._eof:
            if self._lost is not None:
                raise httpx.ReadError(describe(self._lost))
            return False
        try:
            await self._wait(self.read_timeout)
        except TimeoutError:
            raise httpx.ReadTimeout(f"nothing arrived for {self.read_timeout:g}s") from None
        return True

    def _take(self, count: int) -> bytes:
        data = bytes(self._buffer[:count])
        del self._buffer[:count]
        if self._reading_paused and len(self._buffer) < PAUSE_READING_AT:
            self._reading_paused = False
            self._transport.resume_reading()
        return data

    async def _wait(self, seconds: float | None) -> None:
        """Sleep until something happens on the connection; TimeoutError after `seconds`."""
        waiter = self._waiter = self._loop.create_future()
        timer = None if seconds is None else self._loop.call_later(seconds, _expire, waiter)
        try:
            await waiter
        finally:
            self._waiter = None
            if timer is not None:
                timer.cancel()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


class ResponseBody(httpx.AsyncByteStream):
    """An answer's body as httpx reads it. Closing it calls `on_close(connection, reusable)`:
    reusable if the body was read to its end and the server lets the connection be kept."""

    def __init__(
        self, connection: Connection, head: Head, on_close: Callable[[Connection, bool], None]
    ) -> None:
        self._connection = connection
        self._head = head
        self._on_close = on_close
        self._complete = head.body == 0
        self._closed = False

    def __aiter__(self) -> AsyncIterator[bytes]:
        if self._head.body == "chunked":
            return self._chunked()
        if self._head.body == "eof":
            return self._until_eof()
        return self._sized(self._head.body)

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            self._on_close(self._connection, self._complete and self._head.keep_alive)

    async def _sized(self, remaining: int) -> AsyncIterator[bytes]:
        while remaining:
            chunk = await self._connection.read_some(min(remaining, READ_CHUNK))
            if not chunk:
                raise httpx.RemoteProtocolError(
                    f"server closed the connection {remaining} bytes short of the body's length"
                )
            remaining -= len(chunk)
            self._complete = not remaining
            yield chunk

    async def _chunked(self) -> AsyncIterator[bytes]:
        while size := parse_chunk_size(await self._line()):
            while size:
                chunk = await self._connection.read_some(min(size, READ_CHUNK))
                if not chunk:
                    raise httpx.RemoteProtocolError("server closed the connection inside a chunk")
                size -= len(chunk)
                yield chunk
            if await self._line():
                raise httpx.RemoteProtocolError("chunk data runs past its declared size")
        trailers = 0
        while line := await self._line():  # trailer fields: checked and dropped, as httpx does
            trailers += len(line) + 2
            if trailers > MAX_HEAD_BYTES:
                raise httpx.RemoteProtocolError(f"trailers over {MAX_HEAD_BYTES} bytes")
            parse_field(line)
        self._complete = True

    async def _until_eof(self) -> AsyncIterator[bytes]:
        while chunk := await self._connection.read_some(READ_CHUNK):
            yield chunk
        self._complete = True

    async def _line(self) -> bytes:
        line = await self._connection.read_until(b"\r\n", MAX_HEAD_BYTES)
        if line is None:
            raise httpx.RemoteProtocolError("server closed the connection inside a chunked body")
        return line[:-2]


def describe(exc: BaseException) -> str:
    """An OS or TLS error as a message: its text, or its type when it has none."""
    return str(exc) or type(exc).__name__


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())
