"""The HTTP/1.1 connection of vidhook's listeners: uvicorn's httptools protocol plus the limits
a public endpoint needs, each refusal answered as `{"error": {"code", "message"}}`.

uvicorn parses (llhttp through httptools) and runs the app; this adds what it lacks:

- `max_header_bytes`: the request line and headers; more is answered 431 (llhttp has no
  limit, so a client could otherwise grow one header without end).
- `header_timeout`: from a connection's start, or a request's first byte, to its last header;
  a client that trickles a head (slowloris) is answered 408 and closed.
- `body_timeout`: from the last header to the last body byte; answered 408 and closed.
- `max_connections`: open connections per listener; the one past it is answered 503 with
  `Retry-After` and closed before anything is read.
- uvicorn's own 400 for a request llhttp cannot parse, as JSON.

The idle keep-alive timeout is uvicorn's (`timeout_keep_alive`), which closes silently.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httptools
import msgspec
import structlog
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle
from uvicorn.server import ServerState

from vidhook.receiver.config import ServerConfig

__all__ = ["EdgeConfig", "EdgeLimits", "EdgeProtocol"]

log = structlog.get_logger("vidhook.edge")

_REASONS = {400: "Bad Request", 408: "Request Timeout", 431: "Request Header Fields Too Large"}
_REASONS[503] = "Service Unavailable"
_RETRY_AFTER_SECONDS = 1


class _HeadRefused(Exception):
    """Raised in a parser callback to stop parsing a request already answered."""


class EdgeLimits(msgspec.Struct, frozen=True, kw_only=True):
    """The limits one listener's connections keep, in bytes and seconds."""

    max_header_bytes: int
    header_timeout: float
    body_timeout: float
    keepalive_timeout: float
    max_connections: int

    @classmethod
    def from_config(cls, server: ServerConfig) -> EdgeLimits:
        """The limits set under `[server]`."""
        return cls(
            max_header_bytes=server.max_header_bytes,
            header_timeout=server.seconds("header_timeout"),
            body_timeout=server.seconds("body_timeout"),
            keepalive_timeout=server.seconds("keepalive_timeout"),
            max_connections=server.max_connections,
        )


class EdgeConfig(uvicorn.Config):
    """uvicorn's settings for one listener, carrying its `EdgeLimits` to each connection."""

    def __init__(self, app: Any, limits: EdgeLimits, **options: Any) -> None:
        super().__init__(app, http=EdgeProtocol, **options)
        self.limits = limits


class EdgeProtocol(HttpToolsProtocol):
    """One client connection with vidhook's limits (see the module's docstring)."""

    def __init__(
        self,
        config: EdgeConfig,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits = config.limits
        self.timeout_keep_alive = self.limits.keepalive_timeout  # type: ignore[assignment]
        self._reading_head = True
        self._head_bytes = self._head_size = 0
        self._received_any = False
        # The head's or body's deadline, and the idle keep-alive one, checked by one timer that
        # wakes at least every `_tick`: moving a deadline is a store or two, not a timer handle
        # made and cancelled, three times per request (about 6 µs of the loop per callback).
        self._deadline = 0.0
        self._expire: Callable[[], None] | None = None
        self._idle_until: float | None = None
        self._timer: asyncio.TimerHandle | None = None
        limits = self.limits
        self._tick = min(limits.header_timeout, limits.body_timeout, limits.keepalive_timeout)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            message = (
                f"the server holds its most connections ({self.limits.max_connections},"
                f" server.max_connections); try again in {_RETRY_AFTER_SECONDS} s"
            )
            retry = (b"retry-after", str(_RETRY_AFTER_SECONDS).encode())
            self._refuse(503, "too_many_connections", message, retry)
            return
        self._arm(self.limits.header_timeout, self._head_too_slow)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._received_any = True
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._refuse(400, "bad_request", f"not a valid HTTP/1.1 request: {exc}")
            return
        except httptools.HttpParserUpgrade:
            pass  # vidhook upgrades nothing: the request was answered as a plain one
        if self._reading_head and not self.transport.is_closing():
            # A head still unfinished is counted per read, which errs toward refusing early by
            # at most the part of one read that ended the previous request.
            self._head_bytes += len(data)
            if self._head_bytes > self.limits.max_header_bytes:
                self._refuse_head()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._reading_head = True
        self._head_bytes = self._head_size = 0
        if self._expire is None:  # a new connection's deadline already runs
            self._arm(self.limits.header_timeout, self._head_too_slow)

    # on_url and on_header do uvicorn's work inline: the super() call cost 0.35 µs a header,
    # a third of what a header cost.
    def on_url(self, url: bytes) -> None:
        self._head_size += len(url)
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_size += len(name) + len(value) + 4  # ": " and CRLF
        name = name.lower()
        # llhttp keeps a value's trailing whitespace, which is not part of it (RFC 9110 5.5).
        value = value.rstrip(b" \t")
        if name == b"expect" and value.lower() == b"100-continue":
            self.expect_100_continue = True
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self._reading_head = False
        if self._head_size > self.limits.max_header_bytes:  # a whole head in one read
            self._refuse_head()
            raise _HeadRefused  # stops the parser; the request never reaches the app
        self._arm(self.limits.body_timeout, self._body_too_slow)
        previous = self.cycle
        super().on_headers_complete()
        if self.cycle is not previous:
            self.cycle.transport = _HeadWithBody(self.transport, self.cycle)  # type: ignore[assignment]

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def send_400_response(self, msg: str) -> None:
        self._refuse(400, "bad_request", f"not a valid HTTP/1.1 request: {msg}")

    def _refuse_head(self) -> None:
        limit = self.limits.max_header_bytes
        message = f"the request line and headers are over {limit} bytes (server.max_header_bytes)"
        self._refuse(431, "headers_too_large", message)

    def _head_too_slow(self) -> None:
        if not self._received_any:  # an idle new connection is closed without a word
            self.transport.close()
            return
        seconds = f"{self.limits.header_timeout:g}"
        message = f"the request's headers did not arrive within {seconds} s (server.header_timeout)"
        self._refuse(408, "request_timeout", message)

    def _body_too_slow(self) -> None:
        cycle = self.cycle
        seconds = f"{self.limits.body_timeout:g}"
        message = f"the request's body did not arrive within {seconds} s (server.body_timeout)"
        if cycle is not None and cycle.response_started:
            self.transport.close()
        else:
            self._refuse(408, "request_timeout", message)
        if cycle is not None:  # the app, still waiting for the body, reads a disconnect
            cycle.disconnected = True
            cycle.message_event.set()

    def _refuse(self, status: int, code: str, message: str, *headers: tuple[bytes, bytes]) -> None:
        """Answer with a JSON error and close, logging the refusal."""
        self._disarm()
        if self.transport.is_closing():
            return
        body = msgspec.json.encode({"error": {"code": code, "message": message}})
        head = [f"HTTP/1.1 {status} {_REASONS[status]}".encode()]
        fields = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
            *headers,
        ]
        head += [name + b": " + value for name, value in fields]
        self.transport.write(b"\r\n".join(head) + b"\r\n\r\n" + body)
        self.transport.close()
        client = f"{self.client[0]}:{self.client[1]}" if self.client else None
        log.warning("request refused", status=status, code=code, client=client, reason=message)

    def on_response_complete(self) -> None:
        # uvicorn's, with the idle keep-alive timeout kept as this connection's deadline.
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        self._unset_keepalive_if_required()
        self.flow.resume_reading()
        if self.pipeline:
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)
        else:
            self._idle_until = self.loop.time() + self.timeout_keep_alive
            self._wake_within(self.timeout_keep_alive)

    def _unset_keepalive_if_required(self) -> None:
        self._idle_until = None

    def _arm(self, seconds: float, callback: Callable[[], None]) -> None:
        self._deadline = self.loop.time() + seconds
        self._expire = callback
        self._wake_within(seconds)

    def _disarm(self) -> None:
        self._expire = None

    def _wake_within(self, seconds: float) -> None:
        if self._timer is None:  # a running timer wakes within `_tick`, before any deadline
            self._timer = self.loop.call_later(min(seconds, self._tick), self._check_deadlines)

    def _check_deadlines(self) -> None:
        self._timer = None
        now = self.loop.time()
        if self._idle_until is not None and self._idle_until <= now:
            self._idle_until = None
            self.timeout_keep_alive_handler()
        expire = self._expire
        if expire is not None and self._deadline <= now:
            self._expire = None
            expire()
        waits = [self._deadline - now] if self._expire is not None else []
        if self._idle_until is not None:
            waits.append(self._idle_until - now)
        if waits:
            self._wake_within(max(min(waits), 0.0))


class _HeadWithBody:
    """The connection's transport as one response sees it: the response's head waits for the
    first write of its body so that both leave in one send. Two writes cost two system calls
    and two TCP segments; one saved about 3 µs of the event loop per callback."""

    __slots__ = ("cycle", "head", "transport")

    def __init__(self, transport: asyncio.Transport, cycle: RequestResponseCycle) -> None:
        self.transport = transport
        # Until the head is written; dropped then, so that the cycle and this do not hold
        # each other and leave every request to the cyclic collector.
        self.cycle: RequestResponseCycle | None = cycle
        self.head: bytes | None = None

    def write(self, data: bytes) -> None:
        head, cycle = self.head, self.cycle
        if head is not None:
            self.head = None
            self.transport.write(head + data)
        elif cycle is not None and cycle.response_started:
            # The head: held unless it goes alone (HEAD) or starts a stream (chunked). A
            # held head always meets its body's write, even an empty one, or close().
            self.cycle = None
            if cycle.chunked_encoding or cycle.scope["method"] == "HEAD":
                self.transport.write(data)
            else:
                self.head = data
        else:
            self.transport.write(data)  # "100 Continue", or the body after its head

    def flush(self) -> None:
        """Write a held head now."""
        if self.head is not None:
            head, self.head = self.head, None
            self.transport.write(head)

    def close(self) -> None:
        self.flush()
        self.transport.close()

    def is_closing(self) -> bool:
        return self.transport.is_closing()
