"""The public callback endpoint: receive, verify, read, then hand to intake."""

from __future__ import annotations

import functools
from typing import Any

import msgspec
from litestar import Request, post
from litestar.background_tasks import BackgroundTask
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath
from litestar.types import ASGIApp, Receive, Scope, Send

from vidhook.receiver.admin.schemas import ErrorBody
from vidhook.receiver.config import SourceConfig
from vidhook.receiver.errors import BadRequest, NotFound, PayloadTooLarge, RateLimited, VidhookError
from vidhook.receiver.event import TaskReport
from vidhook.receiver.http_errors import error_response
from vidhook.receiver.json_depth import refuse_deep_json
from vidhook.receiver.services import Services
from vidhook.receiver.sources import Source
from vidhook.receiver.store.records import RawRequest, Rejection
from vidhook.receiver.stored_headers import stored_headers
from vidhook.receiver.verify import InboundRequest, ProxyTrust

__all__ = ["HookAnswer", "receive_callback"]

_HEAD_BYTES = 4096
_JSON = (b"content-type", b"application/json")
_REFUSALS = {
    400: "The body is not JSON, is empty, is not UTF-8 or nests too deep",
    401: "The callback is not verified: URL token, signature, timestamp or client address",
    404: "No source of this name, or one whose provider never calls back",
    413: "The body is over `server.max_body_bytes`",
    422: "The body is JSON that the provider's schema cannot read",
    429: "The source is over its rate limit; send again after `Retry-After` seconds",
    503: "The store cannot write; nothing was stored, send the callback again",
}


class HookAnswer(msgspec.Struct):
    """The answer to a stored callback: the event's id, and whether it was one seen before."""

    id: str
    duplicate: bool


class _Stored:
    """The 200 answer, sent straight to the server: Litestar's Response machinery costs more
    than the rest of a callback's answer on the event loop."""

    __slots__ = ("body",)

    def __init__(self, body: bytes) -> None:
        self.body = body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        length = (b"content-length", str(len(self.body)).encode())
        await send({"type": "http.response.start", "status": 200, "headers": [_JSON, length]})
        await send({"type": "http.response.body", "body": self.body, "more_body": False})


@post(
    ["/hooks/{source:str}", "/hooks/{source:str}/{token:str}"],
    status_code=200,
    summary="Receive a provider callback",
    description="The public callback_url. Answers {id, duplicate} once the event is committed.",
    tags=["hooks"],
    responses={
        200: ResponseSpec(HookAnswer, description="The event is committed"),
        **{
            code: ResponseSpec(ErrorBody, description=text, generate_examples=False)
            for code, text in _REFUSALS.items()
        },
    },
)
async def receive_callback(
    request: Request[Any, Any, Any], source: FromPath[str], services: NamedDependency[Services]
) -> ASGIApp:
    """Take one callback; answer only after the event and its deliveries are committed."""
    token: str | None = request.path_params.get("token")
    body = b""
    try:
        body = await _read_body(request, services.settings.server.max_body_bytes)
        return await _accept(request, services, source, token, body)
    except VidhookError as exc:
        return _refuse(request, services, source, body, exc)


def _refuse(
    request: Request[Any, Any, Any], services: Services, name: str, body: bytes, exc: VidhookError
) -> ASGIApp:
    """The error answer, with the refused request kept in the bounded rejection log."""
    # Only configured names become metric labels: each unknown name would add a series forever.
    label = name if name in services.sources else "(unknown)"
    services.metrics.rejected.labels(label, exc.code).inc()
    rejection = Rejection(
        at=services.now_text(),
        source=name[:200],
        reason=exc.code,
        status=exc.status_code,
        message=exc.message[:1000],
        client=_client_address(request, services, name),
        # A body refused for its declared size is never read; its size is the declared one.
        size=len(body) or _declared_length(request) or 0,
        head=body[:_HEAD_BYTES],
    )
    keep = services.settings.server.rejected_log_size
    task = BackgroundTask(services.record_rejection, rejection, keep)
    return error_response(exc, background=task).to_asgi_response(None, request)


def _client_address(request: Request[Any, Any, Any], services: Services, name: str) -> str:
    """The refused client as the source would judge it: resolved through trusted proxies, so
    the rejection log names the sender and not the proxy in front."""
    peer = request.client.host if request.client else ""
    forwarded = _headers(request).get("x-forwarded-for")
    source = services.sources.get(name)
    if source is not None:
        return source.verifier.trust.client_address(peer, forwarded)
    return _server_trust(tuple(services.settings.server.trusted_proxies)).client_address(
        peer, forwarded
    )


@functools.lru_cache(maxsize=8)
def _server_trust(cidrs: tuple[str, ...]) -> ProxyTrust:
    return ProxyTrust(list(cidrs), "server.trusted_proxies")


def _declared_length(request: Request[Any, Any, Any]) -> int | None:
    declared = request.headers.get("content-length", "").strip()
    return int(declared) if declared.isascii() and declared.isdigit() else None


async def _read_body(request: Request[Any, Any, Any], limit: int) -> bytes:
    declared = _declared_length(request)
    if declared is not None and declared > limit:
        raise PayloadTooLarge(f"body of {declared} bytes is over the {limit}-byte limit")
    try:
        body = await request.body()
    except HTTPException as exc:
        if exc.status_code == 413:
            raise PayloadTooLarge(f"body is over the {limit}-byte limit") from None
        # Litestar reports a client that goes away mid-body as a 500; it is the client's doing,
        # and the rejection log should say so.
        raise BadRequest(
            f"the body could not be read: {exc.detail}", code="incomplete_body"
        ) from None
    if len(body) > limit:
        raise PayloadTooLarge(f"body of {len(body)} bytes is over the {limit}-byte limit")
    return body


async def _accept(
    request: Request[Any, Any, Any], services: Services, name: str, token: str | None, body: bytes
) -> ASGIApp:
    source = services.sources.get(name)
    if source is None:
        raise NotFound(f"no source named {name[:64]!r} is configured", code="unknown_source")
    headers = _headers(request)
    inbound = InboundRequest(
        headers=headers,
        body=body,
        client_host=request.client.host if request.client else "",
        path_token=token,
        query_token=request.query_params.get("token"),
    )
    now = services.clock()
    verified_by = source.verifier.verify(inbound, now)
    _take_turn(source, now)
    report = _read(source, body, services.settings.server.max_json_depth)
    raw = RawRequest(
        method=request.method,
        path=f"/hooks/{name}/[redacted]" if token is not None else f"/hooks/{name}",
        client=source.verifier.client_address(inbound),
        headers=stored_headers(headers, _signature_headers(source.config)),
        body=body,
    )
    result = await services.intake.accept(
        source, report, raw, verified_by, hold=source.config.confirm
    )
    return _Stored(services.encode(HookAnswer(result.event.id, result.duplicate)))


def _take_turn(source: Source, now: float) -> None:
    """Count a request against its source's rate limit, once it is verified: a stranger who
    floods the callback URL must not spend the budget of the provider's own callbacks."""
    if source.limiter is not None:
        wait = source.limiter.take(now)
        if wait > 0:
            raise RateLimited(f"source {source.name!r} is over its rate limit", retry_after=wait)


def _read(source: Source, body: bytes, max_depth: int) -> TaskReport:
    """The provider's report in the body, once the body is known to be worth decoding."""
    callbacks = source.provider.callbacks
    if callbacks is None:
        raise NotFound(
            f"source {source.name!r} is a {source.config.provider} source, which never calls"
            " back; vidhook polls its tasks instead",
            code="no_callbacks",
        )
    if not body.strip():
        raise BadRequest(
            "the body is empty; expected the provider's JSON callback", code="invalid_json"
        )
    try:
        # The decoders skip unknown fields without looking inside, bad UTF-8 included.
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(
            f"body is not valid UTF-8 (byte {exc.start}); JSON must be UTF-8",
            code="invalid_json",
        ) from None
    refuse_deep_json(body, max_depth)
    return callbacks.read(body, source.config)


def _signature_headers(config: SourceConfig) -> frozenset[str]:
    """The source's own HMAC header, which the secret-looking names may not cover."""
    return frozenset({config.hmac.header.lower()}) if config.hmac else frozenset()


def _headers(request: Request[Any, Any, Any]) -> dict[str, str]:
    """Header names lower-cased; a repeated header's values joined by ", "."""
    headers: dict[str, str] = {}
    for raw_name, raw_value in request.scope["headers"]:
        name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers
