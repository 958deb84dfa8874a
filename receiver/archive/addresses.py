"""Which addresses and hosts the archive downloader may connect to.

A video URL comes from a provider's callback, so whoever can make a provider (or vidhook's
caller) name a URL could point the downloader at vidhook's own network: its loopback admin
listener, a database on a private address, or a cloud metadata service that hands out
credentials. So every address a host resolves to is checked before connecting, and the
connection goes to exactly that address (see `fetch.py`).

Refused unless `allow_private`: loopback, private (RFC 1918, unique local), link-local,
multicast, reserved, unspecified, and anything else that is not a global unicast address
(shared address space, documentation ranges, ...). IPv6 forms that carry an IPv4 address
(IPv4-mapped `::ffff:a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4, Teredo) are judged by that IPv4
address too. Cloud metadata addresses are refused even with `allow_private`: no video lives
there, and their answers are credentials. A caller may trust chosen networks without allowing
every private address (`FetchPolicy.trusted_networks`).
"""

from __future__ import annotations

import fnmatch
import ipaddress

__all__ = [
    "METADATA_ADDRESSES",
    "IPAddress",
    "IPNetwork",
    "host_allowed",
    "parse_ip",
    "refusal",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(text)
    for text in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean, ...
        "169.254.170.2",  # AWS ECS task credentials
        "fd00:ec2::254",  # AWS over IPv6
        "100.100.100.200",  # Alibaba Cloud
        "168.63.129.16",  # Azure wire server (a public address)
    )
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")

_KINDS: tuple[tuple[str, str], ...] = (
    ("is_unspecified", "unspecified"),
    ("is_loopback", "loopback"),
    ("is_link_local", "link-local"),
    ("is_multicast", "multicast"),
    ("is_reserved", "reserved"),
    ("is_private", "private"),
)


def parse_ip(host: str) -> IPAddress | None:
    """`host` as an IP address when it is one (brackets and an IPv6 zone are allowed), else
    None for a name to resolve."""
    text = host.strip("[]").split("%", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, NAT64, 6to4, Teredo), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    return None


def _kind(address: IPAddress) -> str | None:
    """Why `address` is not a public unicast address, or None when it is one."""
    for attribute, kind in _KINDS:
        if getattr(address, attribute):
            return kind
    return None if address.is_global else "non-public"


def refusal(
    address: IPAddress, *, allow_private: bool, trusted: tuple[IPNetwork, ...] = ()
) -> str | None:
    """Why the downloader must not connect to `address`, or None when it may; addresses in a
    `trusted` network (an internal mirror, say) pass like public ones."""
    if isinstance(address, ipaddress.IPv6Address):
        address = ipaddress.IPv6Address(int(address))  # without a zone, which equality counts
    candidates: list[IPAddress] = [address]
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:  # judged first: it is where the connection really goes
            candidates.insert(0, embedded)
    for candidate in candidates:
        if candidate in METADATA_ADDRESSES:
            return f"{candidate} is a cloud metadata address"
    if allow_private or any(address in network for network in trusted):
        return None
    for candidate in candidates:
        kind = _kind(candidate)
        if kind is not None:
            return f"{candidate} is a {kind} address (set [archive].allow_private to allow it)"
    return None


def host_allowed(host: str, patterns: list[str]) -> bool:
    """Whether `host` matches one of the glob `patterns` (case-insensitive); an empty list
    allows every host."""
    if not patterns:
        return True
    name = host.strip("[]").rstrip(".").lower()
    return any(fnmatch.fnmatchcase(name, pattern.lower()) for pattern in patterns)
