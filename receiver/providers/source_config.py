"""The options every source takes, whatever its provider; each provider's module adds its own.

A provider's config Struct subclasses `SourceConfigBase` with `tag=<provider name>`, so the
`provider` key of a `[sources.NAME]` table picks the Struct that decodes the rest of it, and
an option of one provider written on another's source is refused as an unknown key.
"""

from __future__ import annotations

from typing import Literal

import msgspec

__all__ = ["ConfigStruct", "HmacConfig", "SourceConfigBase", "StandardWebhooksConfig"]


class ConfigStruct(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Base for config sections: unknown keys are refused, so typos fail at load."""


class HmacConfig(ConfigStruct):
    """An HMAC signature over the raw body, or over a template such as `{timestamp}.{body}`."""

    secret: str | list[str]
    header: str = "X-Signature"
    algorithm: Literal["sha256", "sha512"] = "sha256"
    encoding: Literal["hex", "base64"] = "hex"
    prefix: str = ""
    template: str = "{body}"
    timestamp_header: str | None = None
    tolerance: int = 300


class StandardWebhooksConfig(ConfigStruct):
    """Standard Webhooks verification (`webhook-id`, `webhook-timestamp`, `webhook-signature`)."""

    secret: str | list[str]
    tolerance: int = 300


class SourceConfigBase(ConfigStruct, tag_field="provider"):
    """One inbound channel of one provider kind: the options every provider's source takes."""

    tokens: list[str] = []
    hmac: HmacConfig | None = None
    standard_webhooks: StandardWebhooksConfig | None = None
    allow_ips: list[str] = []
    # None: the server's `trusted_proxies`; a list (even empty) replaces them for this source.
    trusted_proxies: list[str] | None = None
    api_key: str | None = None
    base_url: str | None = None
    confirm: bool = False
    # Durations in seconds; the config also takes "30s", "10m", "2h", "1d" (see durations.py).
    poll_interval: float = 10.0
    poll_timeout: float = 1800.0
    max_polls_in_flight: int = 8
    # How long a task may go without its final callback before vidhook polls it.
    callback_grace: float = 600.0
    # Task queries per minute per provider API key; None: the provider's published limit.
    queries_per_minute: float | None = None
    labels: dict[str, str] = {}
    rate_limit: float | None = None
    rate_burst: int | None = None

    @property
    def provider(self) -> str:
        """The provider's name: the `provider` key that chose this Struct."""
        return str(self.__struct_config__.tag)
