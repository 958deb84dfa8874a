"""The `http` sink: POST each event to a URL, optionally signed with Standard Webhooks headers.

Formats:
    event        the Event as JSON (`application/json`)
    cloudevents  a CloudEvents 1.0 structured-mode envelope (`application/cloudevents+json`):
                 `id` is the delivery's webhook id, `source` is `/vidhook/sources/<source>`, `type`
                 is `dev.vidhook.` + the event type (e.g. `dev.vidhook.task.completed`), `subject`
                 is the task id, `time` is when vidhook received the event, `data` is the Event
    raw          the provider's body exactly as vidhook received it
`template` replaces the body with a rendered template (format must stay `event`); it is sent as
`application/json` unless `headers` say otherwise, and `| tojson` quotes values for JSON.

Headers: `webhook-id` (the delivery's webhook id, the same on every retry, for the receiver to
deduplicate on) is always sent; with `secret` (`whsec_<base64>`) `webhook-timestamp` and
`webhook-signature: v1,<base64>` follow Standard Webhooks. `headers` adds the user's own.

Answers: 2xx is success; 408, 409, 425, 429 and 5xx are retried, honouring `Retry-After`; every
other status is final. Timeouts and connection errors are retried.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Any, Literal

import httpx
import msgspec

from vidhook.receiver.errors import ConfigError
from vidhook.receiver.retry_after import parse_retry_after
from vidhook.receiver.secret_strength import MIN_SECRET_BYTES
from vidhook.routes.digest_render import digest_json
from vidhook.routes.sinks.base import Delivery, SendResult, SinkConfig, SinkContext, SinkError
from vidhook.routes.templates import MessageTemplate, RenderError, compile_template

__all__ = [
    "EXCERPT_CHARS",
    "HttpAnswer",
    "HttpConfig",
    "HttpSink",
    "check_url",
    "cloudevent",
    "outcome",
    "post",
    "sign",
]

EXCERPT_CHARS = 500
RETRYABLE_4XX = frozenset({408, 409, 425, 429})
USER_AGENT = "vidhook"


class HttpConfig(SinkConfig, kw_only=True, forbid_unknown_fields=True):
    """An HTTP endpoint that receives events."""

    url: str
    headers: dict[str, str] = {}
    format: Literal["event", "cloudevents", "raw"] = "event"
    secret: str | None = None
    template: str | None = None


@dataclass(frozen=True)
class HttpAnswer:
    """What an endpoint answered: status, headers and the start of its body."""

    status_code: int
    headers: httpx.Headers
    excerpt: str


def check_url(url: str, where: str) -> None:
    """Refuse, at build, a URL that is not absolute http(s)."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise ConfigError(f"{where}: not a valid URL: {exc}") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ConfigError(f"{where}: must be an absolute http:// or https:// URL")


async def post(
    client: httpx.AsyncClient,
    url: str,
    body: bytes,
    headers: dict[str, str],
    timeout: float,  # noqa: ASYNC109 - handed to httpx, which applies it per phase
) -> HttpAnswer:
    """POST and read at most an excerpt of the answer; network failures become retryable
    SinkErrors."""
    try:
        async with client.stream(
            "POST", url, content=body, headers=headers, timeout=timeout
        ) as response:
            return HttpAnswer(response.status_code, response.headers, await _excerpt(response))
    except httpx.TimeoutException:
        raise SinkError(f"timed out after {timeout:g}s") from None
    except httpx.TransportError as exc:
        raise SinkError(f"{type(exc).__name__}: {exc or 'connection failed'}") from None


async def _excerpt(response: httpx.Response) -> str:
    limit = EXCERPT_CHARS * 4  # UTF-8 needs at most 4 bytes a character
    chunks = bytearray()
    async for chunk in response.aiter_bytes():
        chunks += chunk
        if len(chunks) >= limit:
            break
    return chunks.decode("utf-8", "replace")[:EXCERPT_CHARS]


def outcome(answer: HttpAnswer, who: str) -> SendResult:
    """Success for 2xx; otherwise raise a SinkError saying whether a retry may help."""
    status = answer.status_code
    if 200 <= status < 300:
        return SendResult(status_code=status, response_excerpt=answer.excerpt)
    retryable = status >= 500 or status in RETRYABLE_4XX
    message = f"{who} answered {status}"
    if answer.excerpt.strip():
        message += f": {answer.excerpt.strip()[:200]}"
    if 300 <= status < 400:
        message += f" (redirect to {answer.headers.get('location', '?')}; configure the final URL)"
    raise SinkError(
        message,
        retryable=retryable,
        retry_after=parse_retry_after(answer.headers.get("retry-after")) if retryable else None,
        status_code=status,
        response_excerpt=answer.excerpt,
    )


def _signing_key(secret: str, where: str) -> bytes:
    try:
        key = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(f"{where}: not a Standard Webhooks secret (whsec_<base64>)") from None
    if len(key) < MIN_SECRET_BYTES:
        raise ConfigError(
            f"{where}: key too short ({len(key)} bytes after base64 decoding); a signing key "
            f"needs at least {MIN_SECRET_BYTES} (whsec_ and 24+ base64 characters)"
        )
    return key


def sign(key: bytes, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The Standard Webhooks `webhook-signature` value for one message."""
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def cloudevent(delivery: Delivery) -> dict[str, Any]:
    """The CloudEvents 1.0 structured-mode envelope around a delivery's event."""
    event = delivery.event
    return {
        "specversion": "1.0",
        "id": delivery.webhook_id,
        "source": f"/vidhook/sources/{event.source}",
        "type": f"dev.vidhook.{event.type}",
        "subject": event.task_id,
        "time": event.received_at,
        "datacontenttype": "application/json",
        "data": event,
    }


class HttpSink:
    """Sends each delivery as one POST to the configured URL."""

    def __init__(self, name: str, config: HttpConfig, context: SinkContext) -> None:
        where = f"sinks.{name}"
        check_url(config.url, f"{where}.url")
        if config.template is not None and config.format != "event":
            raise ConfigError(
                f"{where}.template: a template replaces the body; leave `format` unset"
            )
        self.name = name
        self.config = config
        self._http = context.http
        self._key = _signing_key(config.secret, f"{where}.secret") if config.secret else None
        self._template: MessageTemplate | None = None
        if config.template is not None:
            self._template = compile_template(config.template, where=f"{where}.template")

    async def send(self, delivery: Delivery) -> SendResult:
        """POST the delivery; raise SinkError on failure."""
        body, content_type = self._body(delivery)
        headers = {"content-type": content_type, "user-agent": USER_AGENT}
        headers.update({k.lower(): v for k, v in self.config.headers.items()})
        headers["webhook-id"] = delivery.webhook_id
        if self._key is not None:
            timestamp = int(time.time())
            headers["webhook-timestamp"] = str(timestamp)
            headers["webhook-signature"] = sign(self._key, delivery.webhook_id, timestamp, body)
        answer = await post(self._http, self.config.url, body, headers, self.config.timeout)
        return outcome(answer, "endpoint")

    def _body(self, delivery: Delivery) -> tuple[bytes, str]:
        if delivery.digest is not None:
            return digest_json(delivery.digest), "application/json"
        if self._template is not None:
            try:
                return self._template.render(delivery.event).encode(), "application/json"
            except RenderError as exc:
                raise SinkError(str(exc), retryable=False) from None
        if self.config.format == "cloudevents":
            return msgspec.json.encode(cloudevent(delivery)), "application/cloudevents+json"
        if self.config.format == "raw":
            if delivery.raw_body is None:
                raise SinkError("format 'raw': no raw provider body is stored", retryable=False)
            return delivery.raw_body, "application/json"
        return msgspec.json.encode(delivery.event), "application/json"
