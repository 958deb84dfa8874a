"""`POST /hooks/{source}[/{token}]` served straight from the ASGI scope, before Litestar routes.

Litestar's request cycle for the callback endpoint (routing, the Request and its headers,
dependency injection, the middleware stack, the exception middleware's send wrapper) cost
more on the event loop than vidhook's own checks. This route does what that cycle did for
this endpoint and no more: it echoes or makes the request id, reads the body against
`server.max_body_bytes`, runs the same checks and intake as before (`hooks.accept`), answers
in the JSON error shape and keeps refused requests in the rejection log.
"""

from __future__ import annotations

import re
from contextvars import ContextVar
from typing import Any, cast

import structlog
from litestar.types import ASGIApp, HTTPScope, Receive, Scope, Send

from vidhook.receiver.errors import BadRequest, PayloadTooLarge, RateLimited, VidhookError
from vidhook.receiver.hooks import HookParts, HookRequest, accept, refusal
from vidhook.receiver.http_errors import error_body
from vidhook.receiver.request_id import request_id_for

__all__ = ["HookRoute"]

log = structlog.get_logger("vidhook.http")

_JSON = (b"content-type", b"application/json")


def _context_var(key: str) -> ContextVar[Any]:
    """The context variable structlog keeps a key's bound value in (`bind_contextvars`), found
    through the token a bind returns: setting it directly costs 0.5 µs a request, against
    2.1 µs for bind_contextvars and its unbind."""
    token = structlog.contextvars.bind_contextvars(**{key: None})[key]
    token.var.reset(token)
    return token.var


_REQUEST_ID = _context_var("request_id")
# What Litestar accepts in a Host header; a request with another goes to Litestar, which
# refuses it before routing, as it always has.
_HOST = re.compile(rb"[0-9A-Za-z!$&'()*+,;=\-._~:\[\]@%]*")


class HookRoute:
    """The callback endpoint as a raw ASGI route of one vidhook instance."""

    def __init__(self, parts: HookParts) -> None:
        self.parts = parts
        self.limit = parts.server.max_body_bytes
        self.keep = parts.server.rejected_log_size

    def claim(self, scope: HTTPScope) -> HookRequest | None:
        """The callback this request is, or None to leave it to Litestar: another method or
        path, a path Litestar would first have to normalise, or a Host header it refuses."""
        if scope["method"] != "POST" or scope.get("root_path"):
            return None
        path: str = scope["path"]
        if not path.startswith("/hooks/"):
            return None
        name, slash, token = path[7:].partition("/")
        if not name or (slash and (not token or "/" in token)):
            return None
        headers, host, request_id = _read_headers(scope)
        if host is not None and not _HOST.fullmatch(host):
            return None
        return _request(scope, name, token or None, headers, request_id)

    @staticmethod
    def hook_request(scope: Scope, name: str, token: str | None) -> HookRequest:
        """The callback's request read off the scope."""
        headers, _, request_id = _read_headers(scope)
        return _request(scope, name, token, headers, request_id)

    async def serve(self, scope: Scope, receive: Receive, send: Send, request: HookRequest) -> None:
        """Answer a claimed callback, with its request id bound to the log and echoed."""
        request_id = request_id_for(request.request_id)
        bound = _REQUEST_ID.set(request_id.decode())
        try:
            await self.respond(receive, send, request, (b"x-request-id", request_id))
        finally:
            _REQUEST_ID.reset(bound)

    def answer_for(self, request: HookRequest) -> ASGIApp:
        """The ASGI app answering a callback that Litestar routed (its middleware adds the
        request id)."""

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            await self.respond(receive, send, request)

        return app

    async def respond(
        self, receive: Receive, send: Send, request: HookRequest, *extra: tuple[bytes, bytes]
    ) -> None:
        """Read, check and commit the callback; answer only once the event is committed."""
        parts, body = self.parts, b""
        try:
            body = await self._read_body(receive, request)
            answer = await accept(request, parts, body)
        except VidhookError as exc:
            rejection = refusal(request, parts, body, exc)
            status, text = error_body(exc)
            if isinstance(exc, RateLimited):
                extra = (*extra, (b"retry-after", str(max(1, round(exc.retry_after))).encode()))
            await _answer(send, status, text, extra)
            # After the answer, as Litestar ran it as a background task: never the caller's wait.
            await parts.record_rejection(rejection, self.keep)
            return
        except Exception as exc:
            log.exception("unhandled error", error=repr(exc))
            status, text = error_body(VidhookError("internal error"))
            await _answer(send, status, text, extra)
            return
        await _answer(send, 200, answer, extra)

    async def _read_body(self, receive: Receive, request: HookRequest) -> bytes:
        limit = self.limit
        declared = request.declared_length()
        if declared is not None and declared > limit:
            raise PayloadTooLarge(f"body of {declared} bytes is over the {limit}-byte limit")
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise BadRequest(
                    "the body could not be read: client disconnected prematurely",
                    code="incomplete_body",
                )
            chunk = cast("bytes", message.get("body", b""))
            if chunk:
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(f"body is over the {limit}-byte limit")
                chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _read_headers(scope: Scope) -> tuple[dict[str, str], bytes | None, bytes]:
    """The headers as `HookRequest` holds them, the first Host header's raw value (or None) and
    the last X-Request-ID's (or b"", as a dict of the raw headers would give it): one pass."""
    headers: dict[str, str] = {}
    host: bytes | None = None
    request_id = b""
    for raw_name, raw_value in scope["headers"]:
        if raw_name == b"host":
            if host is None:
                host = raw_value
        elif raw_name == b"x-request-id":
            request_id = raw_value
        key, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return headers, host, request_id


def _request(
    scope: Scope, name: str, token: str | None, headers: dict[str, str], request_id: bytes
) -> HookRequest:
    client = scope.get("client")
    return HookRequest(
        name, token, headers, client[0] if client else "", scope["query_string"], request_id
    )


async def _answer(send: Send, status: int, body: bytes, extra: tuple[Any, ...]) -> None:
    headers = [_JSON, (b"content-length", b"%d" % len(body)), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})
