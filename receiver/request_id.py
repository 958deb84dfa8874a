"""Binds a request id to every log line of a request and echoes it as `X-Request-ID`."""

from __future__ import annotations

import re

import structlog
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from vidhook.receiver.event import new_id

__all__ = ["RequestIdMiddleware", "request_id_for"]

_VALID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")


def request_id_for(given: bytes) -> bytes:
    """The client's `X-Request-ID` when it is sane, else a new id."""
    return given if _VALID.fullmatch(given) else new_id().encode()


class RequestIdMiddleware:
    """ASGI middleware: take a sane `X-Request-ID` from the client or make one."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"x-request-id", b"")
        request_id = request_id_for(given)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id))
                message["headers"] = headers
            await send(message)

        structlog.contextvars.bind_contextvars(request_id=request_id.decode())
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            structlog.contextvars.unbind_contextvars("request_id")
