"""What `vidhook check` warns about proxy trust: settings that load and run, but let the wrong
clients through or shut the right ones out.

- A source with `allow_ips` behind a proxy that is not trusted: every callback seems to come
  from the proxy, so the allowed clients are refused, and allowing the proxy's own address
  instead lets everyone in.
- A trusted range wider than a /24 (IPv6: /64): every host in it may write X-Forwarded-For,
  and on a shared container network that is every container. Pin the proxy's own address.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from vidhook.receiver.config import Settings, trusted_proxies_for

__all__ = ["trust_warnings"]

_WIDEST_PREFIX = {4: 24, 6: 64}


def trust_warnings(settings: Settings) -> list[str]:
    """A line per questionable trust setting; empty when there is none."""
    warnings = _wide_ranges("server.trusted_proxies", settings.server.trusted_proxies)
    proxied = behind_proxy(settings)
    for name, source in settings.sources.items():
        where = f"sources.{name}"
        if source.trusted_proxies is not None:
            warnings += _wide_ranges(f"{where}.trusted_proxies", source.trusted_proxies)
        if source.allow_ips and proxied and not trusted_proxies_for(settings.server, source):
            warnings.append(
                f"{where}.allow_ips: callbacks reach vidhook through a proxy (server.public_url is"
                f" {settings.server.public_url}), which is not trusted, so every callback seems to"
                " come from the proxy and is refused; allowing the proxy's address instead would"
                " let everyone in. Set server.trusted_proxies to the proxy's own address (a /32)"
            )
    return warnings


def behind_proxy(settings: Settings) -> bool:
    """Whether providers reach vidhook through something else: vidhook speaks plain HTTP, so an
    https public_url is served by a proxy, and so is a public address when it listens on
    loopback only."""
    public = urlsplit(settings.server.public_url)
    if public.scheme == "https":
        return True
    return _is_loopback(settings.server.host) and not _is_loopback(public.hostname or "")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _wide_ranges(where: str, cidrs: list[str]) -> list[str]:
    warnings = []
    for i, text in enumerate(cidrs):
        try:
            network = ipaddress.ip_network(text.strip())
        except ValueError:
            continue  # loading the sources reports it
        if network.prefixlen < _WIDEST_PREFIX[network.version]:
            warnings.append(
                f"{where}[{i}]: {network} trusts {network.num_addresses} addresses to write"
                " X-Forwarded-For, and any host among them can forge a client address; pin the"
                " proxy's own address instead (e.g. its /32)"
            )
    return warnings
