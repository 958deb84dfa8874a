"""Which request headers vidhook stores with a raw request, and which values it hides.

A header's value is kept only when it helps to debug a delivery and cannot be a secret:
the standard content and proxy headers, tracing ids and the Standard Webhooks id and
timestamp (`KEPT`, and names holding `trace`, `request-id` or `correlation`). A name that
looks like a credential (`SECRET_PARTS`: token, secret, key, signature, auth, cookie,
password, session, credential, ...) is always hidden, whatever else it matches. Every other
header is stored by name with its value replaced by `[redacted]`, so a reader can see what
arrived without reading it. Kept values are cut at 1,024 characters.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

__all__ = ["KEPT", "REDACTED", "SECRET_PARTS", "is_secret_header", "stored_headers"]

REDACTED = "[redacted]"
_MAX_VALUE = 1024

SECRET_PARTS = (
    "token", "secret", "key", "sig", "auth", "cookie", "password", "passwd", "pwd", "session",
    "credential", "csrf", "xsrf", "jwt", "bearer", "private", "otp", "nonce",
)  # fmt: skip

KEPT = frozenset(
    {
        "accept", "accept-encoding", "content-encoding", "content-length", "content-type",
        "date", "expect", "forwarded", "host", "traceparent", "tracestate", "user-agent",
        "webhook-id", "webhook-timestamp", "x-forwarded-for", "x-forwarded-host",
        "x-forwarded-proto", "x-real-ip",
    }
)  # fmt: skip
_KEPT_PARTS = ("trace", "request-id", "correlation")


def is_secret_header(name: str) -> bool:
    """Whether a header's name looks like it carries a credential."""
    lowered = name.lower()
    return any(part in lowered for part in SECRET_PARTS)


def _kept(name: str) -> bool:
    return name in KEPT or any(part in name for part in _KEPT_PARTS)


@lru_cache(maxsize=4096)
def _shown(lowered: str) -> bool:
    """Whether a (lower-cased) header's value is stored. Senders repeat the same few names,
    and checking every part of every name was a visible share of a callback's CPU; the cache
    is bounded, so odd names from strangers cannot grow it."""
    return _kept(lowered) and not is_secret_header(lowered)


def stored_headers(
    headers: Mapping[str, str], secret: frozenset[str] = frozenset()
) -> dict[str, str]:
    """The headers as vidhook stores them (names lower-cased); `secret` names more headers
    to hide, such as a source's own HMAC header."""
    stored: dict[str, str] = {}
    for name, value in headers.items():
        lowered = name.lower()
        shown = _shown(lowered) and lowered not in secret
        stored[lowered] = value[:_MAX_VALUE] if shown else REDACTED
    return stored
