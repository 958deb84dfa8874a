"""Realistic provider callbacks for `vidhook simulate`, signed as the source's config requires.

The bodies follow the shapes the providers document (the same shapes as the test fixtures),
with a fresh task id and current times, so each simulation is a new task rather than a
duplicate. Only providers that call back can be simulated; the others are polled.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import string
import uuid
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any, Literal
from urllib.parse import quote

import msgspec

from vidhook.receiver.config import HmacConfig, Settings, SourceConfig, StandardWebhooksConfig
from vidhook.receiver.errors import BadRequest, ConfigError
from vidhook.receiver.event import rfc3339

__all__ = ["CALLBACK_PROVIDERS", "SimulatedCallback", "callback_body", "simulated_callback"]

Outcome = Literal["completed", "failed"]
CALLBACK_PROVIDERS = ("vibegen", "evolink", "ark", "generic")
_ALNUM = string.ascii_lowercase + string.digits


class SimulatedCallback(msgspec.Struct, kw_only=True):
    """A callback ready to send: where, with which headers, and its body."""

    source: str
    url: str
    headers: dict[str, str]
    body: bytes


def _iso(seconds: float) -> str:
    return rfc3339(datetime.fromtimestamp(seconds, UTC)).replace(".000Z", "Z")


def _tail(length: int) -> str:
    return "".join(secrets.choice(_ALNUM) for _ in range(length))


def vibegen_body(outcome: Outcome, now: float) -> dict[str, Any]:
    """vibegen's `task.completed` / `task.failed` callback."""
    body: dict[str, Any] = {
        "event": f"task.{outcome}",
        "task_id": str(uuid.uuid4()),
        "status": outcome,
        "created_at": _iso(now - 150),
    }
    if outcome == "completed":
        body |= {"video_url": f"https://cdn.example.com/videos/{_tail(6)}.mp4"}
        return body | {"completed_at": _iso(now)}
    return body | {"error_message": "Content policy violation", "failed_at": _iso(now)}


def evolink_body(outcome: Outcome, now: float) -> dict[str, Any]:
    """evolink's callback, identical to its task query answer."""
    tail = _tail(8)
    body: dict[str, Any] = {
        "created": int(now) - 120,
        "id": f"task-unified-{int(now) - 120}-{tail}",
        "model": "doubao-seedance-1.0-pro-fast",
        "object": "video.generation.task",
        "progress": 100 if outcome == "completed" else 0,
        "status": outcome,
        "type": "video",
        "task_info": {"can_cancel": False},
    }
    if outcome == "completed":
        return body | {
            "results": [f"https://cdn.example.com/videos/{tail}.mp4"],
            "task_info": {"can_cancel": False, "video_duration": 8},
            "usage": {"billing_rule": "per_call", "credits_reserved": 8, "user_group": "default"},
        }
    message = "Content policy violation.\nYour request was blocked by safety filters."
    return body | {"error": {"code": "content_policy_violation", "message": message}}


def ark_body(outcome: Outcome, now: float) -> dict[str, Any]:
    """Volcengine Ark's status-change callback, identical to its task query answer."""
    stamp = datetime.fromtimestamp(now, UTC).strftime("%Y%m%d%H%M%S")
    body: dict[str, Any] = {
        "id": f"cgt-{stamp}-{_tail(5)}",
        "model": "doubao-seedance-1-0-pro-250528",
        "status": "succeeded" if outcome == "completed" else "failed",
        "created_at": int(now) - 54,
        "updated_at": int(now),
    }
    if outcome == "failed":
        message = "The request failed because the output video may contain sensitive information."
        return body | {"error": {"code": "OutputVideoSensitiveContentDetected", "message": message}}
    host = "https://ark-content-generation-cn-beijing.tos-cn-beijing.volces.com"
    video = f"{host}/doubao-seedance-1-0-pro/{_tail(8)}.mp4?X-Tos-Expires=86400"
    return body | {
        "content": {"video_url": video},
        "seed": 10, "resolution": "720p", "duration": 5, "ratio": "16:9", "framespersecond": 24,
        "usage": {"completion_tokens": 108900, "total_tokens": 108900},
    }  # fmt: skip


def generic_body(outcome: Outcome, source: SourceConfig) -> dict[str, Any]:
    """A body laid out by a generic source's `mapping`, with its own status word."""
    if source.mapping is None:
        raise ConfigError("a generic source needs a `mapping` to simulate its callback")
    mapping = source.mapping
    words = [word for word, status in source.statuses.items() if status == outcome]
    document: dict[str, Any] = {}
    _put(document, mapping.task_id, f"sim-{_tail(10)}")
    _put(document, mapping.status, words[0] if words else outcome)
    if mapping.model:
        _put(document, mapping.model, "simulated-model")
    if outcome == "completed" and mapping.video_urls:
        _put(document, mapping.video_urls, [f"https://cdn.example.com/videos/{_tail(6)}.mp4"])
    if outcome == "failed" and mapping.error:
        _put(document, mapping.error, {"code": "E_SIMULATED", "message": "Simulated failure"})
    return document


def _put(document: dict[str, Any], path: str, value: Any) -> None:
    """Set the value at a dotted path, making objects on the way; an index part (`outputs.0`)
    makes a list, as the generic reader walks lists by index."""
    parts = path.split(".")
    node: Any = document
    for part, child in pairwise(parts):
        node = _slot(node, part, [] if child.isdecimal() else {})
    _slot(node, parts[-1], value, replace=True)


def _slot(node: Any, key: str, value: Any, *, replace: bool = False) -> Any:
    """The child of a dict or list at `key`, set to `value` when missing (or `replace`)."""
    if isinstance(node, list):
        index = int(key)
        node.extend([None] * (index + 1 - len(node)))
        if replace or node[index] is None:
            node[index] = value
        return node[index]
    if replace or key not in node:
        node[key] = value
    return node[key]


def callback_body(provider: str, outcome: Outcome, source: SourceConfig, now: float) -> bytes:
    """The JSON body of a provider's callback for a task that completed or failed."""
    match provider:
        case "vibegen":
            body = vibegen_body(outcome, now)
        case "evolink":
            body = evolink_body(outcome, now)
        case "ark":
            body = ark_body(outcome, now)
        case "generic":
            body = generic_body(outcome, source)
        case _:
            raise BadRequest(
                f"{provider} never calls back (vidhook polls its tasks), so it has no callback"
                f" to simulate; providers that call back: {', '.join(CALLBACK_PROVIDERS)}"
            )
    return json.dumps(body).encode()


def simulated_callback(
    settings: Settings, source_name: str, outcome: Outcome, now: float, base_url: str | None
) -> SimulatedCallback:
    """The callback a source's provider would send, addressed to vidhook at `base_url`
    (default `server.public_url`), with the URL token and signatures its config asks for."""
    config = settings.sources[source_name]
    body = callback_body(config.provider, outcome, config, now)
    base = (base_url or settings.server.public_url).rstrip("/")
    url = f"{base}/hooks/{quote(source_name, safe='')}"
    if config.tokens:
        url += f"/{quote(config.tokens[0], safe='')}"
    headers = {"content-type": "application/json", "user-agent": "vidhook-simulate"}
    if config.hmac is not None:
        headers |= hmac_headers(config.hmac, body, now)
    if config.standard_webhooks is not None:
        headers |= standard_webhooks_headers(config.standard_webhooks, body, now)
    return SimulatedCallback(source=source_name, url=url, headers=headers, body=body)


def hmac_headers(config: HmacConfig, body: bytes, now: float) -> dict[str, str]:
    """The signature (and timestamp) headers an HMAC source checks, with its first secret."""
    secret = config.secret if isinstance(config.secret, str) else config.secret[0]
    stamp = str(int(now))
    head, _, tail = config.template.replace("{timestamp}", stamp).partition("{body}")
    digest = hmac.new(secret.encode(), head.encode() + body + tail.encode(), config.algorithm)
    raw = digest.digest()
    encoded = raw.hex() if config.encoding == "hex" else base64.b64encode(raw).decode()
    headers = {config.header: config.prefix + encoded}
    if config.timestamp_header is not None:
        headers[config.timestamp_header] = stamp
    return headers


def standard_webhooks_headers(
    config: StandardWebhooksConfig, body: bytes, now: float
) -> dict[str, str]:
    """Standard Webhooks headers signed with the source's first secret."""
    secret = config.secret if isinstance(config.secret, str) else config.secret[0]
    key = base64.b64decode(secret.strip().removeprefix("whsec_"))
    msg_id = f"msg_{uuid.uuid4().hex}"
    stamp = str(int(now))
    signed = f"{msg_id}.{stamp}.".encode() + body
    signature = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": stamp,
        "webhook-signature": f"v1,{signature}",
    }
