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
import uuid
from urllib.parse import quote

import msgspec

from vidhook.receiver.config import HmacConfig, Settings, SourceConfig, StandardWebhooksConfig
from vidhook.receiver.errors import BadRequest
from vidhook.receiver.providers import PROVIDERS
from vidhook.receiver.providers.samples import Outcome

__all__ = ["CALLBACK_PROVIDERS", "SimulatedCallback", "callback_body", "simulated_callback"]

CALLBACK_PROVIDERS = tuple(name for name, provider in PROVIDERS.items() if provider.calls_back)


class SimulatedCallback(msgspec.Struct, kw_only=True):
    """A callback ready to send: where, with which headers, and its body."""

    source: str
    url: str
    headers: dict[str, str]
    body: bytes


def callback_body(outcome: Outcome, source: SourceConfig, now: float) -> bytes:
    """The JSON body of the source's provider's callback for a task that completed or failed."""
    callbacks = PROVIDERS[source.provider].callbacks
    if callbacks is None:
        raise BadRequest(
            f"{source.provider} never calls back (vidhook polls its tasks), so it has no callback"
            f" to simulate; providers that call back: {', '.join(CALLBACK_PROVIDERS)}"
        )
    return json.dumps(callbacks.simulate(outcome, source, now)).encode()


def simulated_callback(
    settings: Settings, source_name: str, outcome: Outcome, now: float, base_url: str | None
) -> SimulatedCallback:
    """The callback a source's provider would send, addressed to vidhook at `base_url`
    (default `server.public_url`), with the URL token and signatures its config asks for."""
    config = settings.sources[source_name]
    body = callback_body(outcome, config, now)
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
