"""Configured sources made ready to receive: provider, verifier and rate limit, built once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from vidhook.receiver.config import Settings, SourceConfig, trusted_proxies_for
from vidhook.receiver.errors import ConfigError
from vidhook.receiver.providers import PROVIDERS
from vidhook.receiver.providers.base import Provider
from vidhook.receiver.ratelimit import TokenBucket
from vidhook.receiver.verify import ProxyTrust, SourceVerifier

__all__ = ["Source", "build_sources", "callback_url", "mask_secret"]


@dataclass
class Source:
    """One source ready for traffic."""

    name: str
    config: SourceConfig
    provider: Provider[Any]
    verifier: SourceVerifier
    limiter: TokenBucket | None

    @property
    def base_url(self) -> str:
        """The provider API base URL: the source's own or the provider's default."""
        return (self.config.base_url or self.provider.default_base_url).rstrip("/")


def build_sources(settings: Settings) -> dict[str, Source]:
    """Build every configured source; a bad secret or CIDR is a ConfigError naming the field."""
    ProxyTrust(settings.server.trusted_proxies, "server.trusted_proxies")  # a bad CIDR fails here
    sources = {}
    for name, config in settings.sources.items():
        provider = PROVIDERS[config.provider]
        limiter = None
        if config.rate_limit is not None:
            if not config.rate_limit > 0:  # written so, it refuses nan too, which TOML allows
                raise ConfigError(f"sources.{name}.rate_limit: must be above 0")
            if config.rate_burst is not None and config.rate_burst < 1:
                raise ConfigError(f"sources.{name}.rate_burst: must be 1 or more")
            limiter = TokenBucket(config.rate_limit, config.rate_burst)
        elif config.rate_burst is not None:
            raise ConfigError(f"sources.{name}.rate_burst: goes with rate_limit (per second)")
        proxies = trusted_proxies_for(settings.server, config)
        verifier = SourceVerifier(config, name, trusted_proxies=proxies)
        sources[name] = Source(name, config, provider, verifier, limiter)
    return sources


def mask_secret(secret: str) -> str:
    """A secret as it may be shown where it could be read back (logs, listings): its first
    4 characters and `…`, enough to tell which one is configured and useless to an attacker."""
    return secret[:4] + "…"


def callback_url(settings: Settings, name: str, *, masked: bool = False) -> str:
    """The URL to give a provider as `callback_url` for a source (first token in the path);
    `masked` shows only the start of the token (`mask_secret`)."""
    base = settings.server.public_url.rstrip("/")
    url = f"{base}/hooks/{quote(name, safe='')}"
    tokens = settings.sources[name].tokens
    if not tokens:
        return url
    return f"{url}/{mask_secret(tokens[0]) if masked else quote(tokens[0], safe='')}"
