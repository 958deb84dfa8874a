"""The public callback endpoint: receive, verify, read, then hand to intake.

`HookRequest` is what a callback's checks need from its HTTP request. `hook_route` serves the
endpoint straight from the ASGI scope; the Litestar handler here declares it for /schema and
takes the few requests that route leaves to Litestar.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import msgspec
from litestar import Request, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath
from litestar.types import ASGIApp

from vidhook.receiver.config import ServerConfig, SourceConfig
from vidhook.receiver.errors import BadRequest, NotFound, RateLimited, VidhookError
from vidhook.receiver.event import TaskReport, rfc3339_at
from vidhook.receiver.http_errors import ErrorBody
from vidhook.receiver.intake import Intake
from vidhook.receiver.json_depth import refuse_deep_json
from vidhook.receiver.metrics import Metrics
from vidhook.receiver.sources import Source
from vidhook.receiver.store.records import RawRequest, Rejection
from vidhook.receiver.stored_headers import stored_headers
from vidhook.receiver.verify import InboundRequest, ProxyTrust

if TYPE_CHECKING:
    from vidhook.receiver.hook_route import HookRoute

__all__ = ["HookAnswer", "HookParts", "HookRequest", "accept", "receive_callback", "refusal"]

_HEAD_BYTES = 4096
_REFUSALS = {
    400: "The body is not JSON, is empty, is not UTF-8 or nests too deep",
    401: "The callback is not verified: URL token, signature, timestamp or client address",
    404: "No source of this name, or one whose provider never calls back",
    413: "The body is over `server.max_body_bytes`",
    422: "The body is JSON that the provider's schema cannot read",
    429: "The source is over its rate limit; send again after `Retry-After` seconds",
    503: "The store cannot write; nothing was stored, send the callback again",
}


_encoder = msgspec.json.Encoder()


@dataclass(frozen=True, slots=True)
class HookParts:
    """What the callback endpoint uses of the instance: its sources, intake, metrics, clock,
    `[server]` settings and the rejection log."""

    sources: Mapping[str, Source]
    intake: Intake
    metrics: Metrics
    clock: Callable[[], float]
    server: ServerConfig
    record_rejection: Callable[[Rejection, int], Awaitable[None]]


class HookAnswer(msgspec.Struct):
    """The answer to a stored callback: the event's id, and whether it was one seen before."""

    id: str
    duplicate: bool


class HookRequest:
    """A callback's request as its checks see it: the source name and URL token from the path,
    header names lower-cased with a repeated header's values joined by ", ", the peer address,
    the raw query string and the raw value of the last `X-Request-ID` header (b"" if none)."""

    __slots__ = ("client_host", "headers", "name", "query_string", "request_id", "token")

    def __init__(
        self,
        name: str,
        token: str | None,
        headers: dict[str, str],
        client_host: str,
        query_string: bytes,
        request_id: bytes = b"",
    ) -> None:
        self.name = name
        self.token = token
        self.headers = headers
        self.client_host = client_host
        self.query_string = query_string
        self.request_id = request_id

    def declared_length(self) -> int | None:
        """The Content-Length header as a number, or None when absent or not a number."""
        declared = self.headers.get("content-length", "").strip()
        return int(declared) if declared.isascii() and declared.isdigit() else None

    def query_token(self) -> str | None:
        """The first `token` query parameter, as Litestar's query_params.get reads it."""
        if not self.query_string:
            return None
        for key, value in parse_qsl(self.query_string.decode("latin-1"), keep_blank_values=True):
            if key == "token":
                return value
        return None


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
async def receive_callback(request: Request[Any, Any, Any], source: FromPath[str]) -> ASGIApp:
    """Take one callback; answer only after the event and its deliveries are committed.

    `hook_route` serves this endpoint before Litestar routes anything; this handler gets only
    what that route leaves to Litestar (a path with extra slashes, a root_path) and answers
    through the same route, which reads the body itself."""
    route: HookRoute = request.app.state["hook_route"]
    token: str | None = request.path_params.get("token")
    return route.answer_for(route.hook_request(request.scope, source, token))


def refusal(request: HookRequest, parts: HookParts, body: bytes, exc: VidhookError) -> Rejection:
    """Count a refused request and make its entry for the bounded rejection log."""
    name = request.name
    # Only configured names become metric labels: each unknown name would add a series forever.
    label = name if name in parts.sources else "(unknown)"
    parts.metrics.rejected.labels(label, exc.code).inc()
    return Rejection(
        at=rfc3339_at(parts.clock()),
        source=name[:200],
        reason=exc.code,
        status=exc.status_code,
        message=exc.message[:1000],
        client=_client_address(request, parts),
        # A body refused for its declared size is never read; its size is the declared one.
        size=len(body) or request.declared_length() or 0,
        head=body[:_HEAD_BYTES],
    )


def _client_address(request: HookRequest, parts: HookParts) -> str:
    """The refused client as the source would judge it: resolved through trusted proxies, so
    the rejection log names the sender and not the proxy in front."""
    peer = request.client_host
    forwarded = request.headers.get("x-forwarded-for")
    source = parts.sources.get(request.name)
    if source is not None:
        return source.verifier.trust.client_address(peer, forwarded)
    return _server_trust(tuple(parts.server.trusted_proxies)).client_address(peer, forwarded)


@functools.lru_cache(maxsize=8)
def _server_trust(cidrs: tuple[str, ...]) -> ProxyTrust:
    return ProxyTrust(list(cidrs), "server.trusted_proxies")


async def accept(request: HookRequest, parts: HookParts, body: bytes) -> bytes:
    """Verify, read and commit one callback; return the encoded 200 answer once committed."""
    name, token = request.name, request.token
    source = parts.sources.get(name)
    if source is None:
        raise NotFound(f"no source named {name[:64]!r} is configured", code="unknown_source")
    headers = request.headers
    inbound = InboundRequest(
        headers=headers,
        body=body,
        client_host=request.client_host,
        path_token=token,
        query_token=request.query_token(),
    )
    now = parts.clock()
    verified_by = source.verifier.verify(inbound, now)
    _take_turn(source, now)
    report = _read(source, body, parts.server.max_json_depth)
    raw = RawRequest(
        method="POST",
        path=f"/hooks/{name}/[redacted]" if token is not None else f"/hooks/{name}",
        client=source.verifier.client_address(inbound),
        headers=stored_headers(headers, _signature_headers(source.config)),
        body=body,
    )
    result = await parts.intake.accept(source, report, raw, verified_by, hold=source.config.confirm)
    return _encoder.encode(HookAnswer(result.event.id, result.duplicate))


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
