"""Real servers on loopback for the sink tests: a scripted HTTP/1.1 server and an SMTP server,
plus builders for events and deliveries."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from vidhook.receiver.event import Credits, ErrorInfo, Event
from vidhook.routes.sinks.base import Delivery


def make_event(**overrides: Any) -> Event:
    """A completed event with every field filled; pass fields to change them."""
    fields: dict[str, Any] = {
        "id": "0190a000-0000-7000-8000-000000000001",
        "type": "task.completed",
        "source": "vibegen",
        "provider": "vibegen",
        "task_id": "task-42",
        "status": "completed",
        "provider_status": "succeeded",
        "model": "seedance-1-pro",
        "video_urls": ["https://cdn.example.com/v/42.mp4"],
        "credits": Credits(reserved=12.5, refunded=False),
        "labels": {"team": "growth"},
        "created_at": "2024-05-01T10:00:00.000Z",
        "finished_at": "2024-05-01T10:01:35.000Z",
        "received_at": "2024-05-01T10:01:36.000Z",
        "verified_by": ["token"],
    }
    fields.update(overrides)
    return Event(**fields)


def make_failed_event(**overrides: Any) -> Event:
    """A failed event with a provider error code and message."""
    fields: dict[str, Any] = {
        "type": "task.failed",
        "status": "failed",
        "provider_status": "failed",
        "video_urls": [],
        "error": ErrorInfo(code="content_policy", message="Prompt <rejected> & refunded"),
        "credits": Credits(reserved=12.5, refunded=True),
    }
    fields.update(overrides)
    return make_event(**fields)


def make_delivery(event: Event | None = None, **overrides: Any) -> Delivery:
    """A first-attempt delivery of `event` (default `make_event()`)."""
    fields: dict[str, Any] = {
        "id": "dlv-1",
        "sink": "test",
        "webhook_id": "msg_2b8f4c1e",
        "attempt": 1,
        "replay": False,
        "event": event or make_event(),
    }
    fields.update(overrides)
    return Delivery(**fields)


def free_port(host: str = "127.0.0.1") -> int:
    """A loopback TCP port nobody listens on (right now) at `host`."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Reply:
    """What the HTTP server answers to one request; `delay` seconds before answering."""

    status: int = 200
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Received:
    """One request the HTTP server read."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class HttpServer:
    """A minimal HTTP/1.1 server on loopback: records each request and answers with the next
    scripted Reply (200 `ok` once the script runs out). Use as `async with HttpServer() as s`."""

    def __init__(self, *replies: Reply) -> None:
        self.replies = list(replies)
        self.received: list[Received] = []
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[Any]] = set()

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/hook"

    async def __aenter__(self) -> HttpServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._handlers:
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, *lines = head.decode("latin-1").split("\r\n")
            method, path, _ = request_line.split(" ", 2)
            headers = dict(line.split(": ", 1) for line in lines if line)
            headers = {k.lower(): v for k, v in headers.items()}
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            self.received.append(Received(method, path, headers, body))
            reply = self.replies.pop(0) if self.replies else Reply()
            await asyncio.sleep(reply.delay)
            extra = "".join(f"{k}: {v}\r\n" for k, v in reply.headers.items())
            writer.write(
                f"HTTP/1.1 {reply.status} X\r\nContent-Length: {len(reply.body)}\r\n"
                f"Connection: close\r\n{extra}\r\n".encode("latin-1")
                + reply.body
            )
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._handlers.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


class RecordingHandler:
    """An aiosmtpd handler that keeps every message and refuses the recipients it is told to."""

    def __init__(self, refuse: dict[str, str] | None = None) -> None:
        self.envelopes: list[Envelope] = []
        self.logins: list[Any] = []
        self.refuse = refuse or {}

    async def handle_RCPT(
        self, server: Any, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        self.logins.append(session.auth_data)
        return "250 Message accepted for delivery"


def password_checker(username: str, password: str) -> Any:
    """An aiosmtpd authenticator that accepts exactly this login."""

    def check(server: Any, session: Session, envelope: Envelope, mechanism: str, data: Any) -> Any:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            username.encode(),
            password.encode(),
        )
        if not ok:  # not handled: aiosmtpd then answers 535 itself
            return AuthResult(success=False, handled=False)
        return AuthResult(success=True, auth_data=data.login)

    return check


def start_smtp(handler: RecordingHandler, **options: Any) -> Controller:
    """Start aiosmtpd on a free loopback port (stop it with `.stop()`)."""
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), **options)
    controller.start()
    return controller


def self_signed_tls(directory: Path) -> tuple[ssl.SSLContext, Path]:
    """A server TLS context for 127.0.0.1 and the certificate file that trusts it."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True,
    )  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context, cert
