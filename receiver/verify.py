"""Per-source authentication of inbound callbacks: IP allowlist, URL token, HMAC, Standard Webhooks.

Every check a source configures must pass. `SourceVerifier.verify` returns the names of those that
did (the event's `verified_by`) or raises `Unauthorized` with a message that says what to fix and
never holds a secret. Secrets and CIDRs are parsed once, when the verifier is built; comparisons
are constant-time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import re
from collections.abc import Mapping, Sequence

import msgspec

from vidhook.receiver.config import HmacConfig, SourceConfig, StandardWebhooksConfig
from vidhook.receiver.errors import ConfigError, Unauthorized

__all__ = [
    "InboundRequest",
    "ProxyTrust",
    "SourceVerifier",
    "client_address",
    "verifier_for",
    "verify_request",
]

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_SECONDS = re.compile(r"[0-9]{1,16}(\.[0-9]{1,9})?")


class InboundRequest(msgspec.Struct, frozen=True):
    """A callback as the HTTP handler sees it; header names lower-cased, repeats joined by ", "."""

    headers: Mapping[str, str]
    body: bytes
    client_host: str
    path_token: str | None = None
    query_token: str | None = None


class ProxyTrust:
    """The proxies whose X-Forwarded-For is believed, and the client address they name."""

    def __init__(self, cidrs: list[str], where: str = "trusted_proxies") -> None:
        self.networks = _networks(cidrs, where)

    def client_address(self, peer: str, forwarded: str | None) -> str:
        """The real client: X-Forwarded-For read from the right, only past trusted proxies."""
        if not forwarded or not _in_any(peer, self.networks):
            return peer
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        for hop in reversed(hops):
            if not _in_any(hop, self.networks):
                return hop
        return hops[0] if hops else peer


class SourceVerifier:
    """One source's configured checks, compiled once at startup.

    `trusted_proxies` is the list the source believes (`config.trusted_proxies_for`); without
    it, the source's own list.
    """

    def __init__(
        self, source: SourceConfig, name: str = "", *, trusted_proxies: list[str] | None = None
    ) -> None:
        where = f"sources.{name}." if name else ""
        self._tokens = _secrets(source.tokens, f"{where}tokens", required=False)
        self._allow = _networks(source.allow_ips, f"{where}allow_ips")
        proxies = source.trusted_proxies if trusted_proxies is None else trusted_proxies
        self.trust = ProxyTrust(proxies or [], f"{where}trusted_proxies")
        self._hmac = _Hmac(source.hmac, f"{where}hmac") if source.hmac else None
        sw = source.standard_webhooks
        self._standard = _StandardWebhooks(sw, f"{where}standard_webhooks") if sw else None

    def verify(self, request: InboundRequest, now: float) -> list[str]:
        """Run every configured check; return the names of those that passed (`verified_by`)."""
        verified = []
        # The IP check runs first, so a client outside allow_ips learns nothing about tokens.
        if self._allow:
            client = self.client_address(request)
            if not _in_any(client, self._allow):
                raise Unauthorized(f"client {client[:64]} is not in allow_ips")
            verified.append("ip")
        if self._tokens:
            given = request.path_token if request.path_token is not None else request.query_token
            if not given:
                raise Unauthorized(
                    "missing URL token: append /<token> to the callback URL or ?token=<token>"
                )
            if not _matches_any([given.encode()], self._tokens):
                raise Unauthorized("URL token does not match any token configured for this source")
            verified.append("token")
        if self._hmac:
            self._hmac.check(request, now)
            verified.append("hmac")
        if self._standard:
            self._standard.check(request, now)
            verified.append("standard-webhooks")
        return verified

    def client_address(self, request: InboundRequest) -> str:
        """The real client: X-Forwarded-For read from the right, only past trusted proxies."""
        return self.trust.client_address(
            request.client_host, request.headers.get("x-forwarded-for")
        )


class _Hmac:
    """An HMAC over the raw body or a `{timestamp}.{body}` style template."""

    def __init__(self, config: HmacConfig, where: str) -> None:
        self.config = config
        self.secrets = _secrets(config.secret, f"{where}.secret")
        fields = set(re.findall(r"\{([^{}]*)\}", config.template))
        if config.template.count("{body}") != 1 or not fields <= {"body", "timestamp"}:
            raise ConfigError(f"{where}.template: needs {{body}} once and may add {{timestamp}}")
        if ("timestamp" in fields) != (config.timestamp_header is not None):
            raise ConfigError(f"{where}: timestamp_header goes with a template using {{timestamp}}")
        _check_tolerance(config.tolerance, where)

    def check(self, request: InboundRequest, now: float) -> None:
        config = self.config
        value = request.headers.get(config.header.lower())
        if value is None:
            raise Unauthorized(f"missing HMAC signature header {config.header}")
        stamp = ""
        if config.timestamp_header is not None:
            stamp = _timestamp(request, config.timestamp_header, now, config.tolerance)
        value = value.strip()
        if value[: len(config.prefix)].lower() != config.prefix.lower():
            raise Unauthorized(f"signature in {config.header} must start with {config.prefix!r}")
        given = _decode(value[len(config.prefix) :], config.encoding)
        if given is None:
            raise Unauthorized(f"HMAC signature in {config.header} is not valid {config.encoding}")
        head, _, tail = config.template.replace("{timestamp}", stamp).partition("{body}")
        signed = head.encode() + request.body + tail.encode()
        expected = [hmac.new(key, signed, config.algorithm).digest() for key in self.secrets]
        if not _matches_any([given], expected):
            raise Unauthorized(f"HMAC signature in {config.header} does not match")


class _StandardWebhooks:
    """Standard Webhooks: HMAC-SHA256 over `{id}.{timestamp}.{body}`, `v1,<base64>` signatures."""

    def __init__(self, config: StandardWebhooksConfig, where: str) -> None:
        self.tolerance = config.tolerance
        self.keys = []
        secrets = [config.secret] if isinstance(config.secret, str) else config.secret
        for i, secret in enumerate(secrets):
            key = _decode(secret.strip().removeprefix("whsec_"), "base64")
            if not key:
                raise ConfigError(f"{where}.secret[{i}]: expected whsec_ followed by base64")
            self.keys.append(key)
        if not self.keys:
            raise ConfigError(f"{where}.secret: at least one secret is needed")
        _check_tolerance(config.tolerance, where)

    def check(self, request: InboundRequest, now: float) -> None:
        names = ("webhook-id", "webhook-timestamp", "webhook-signature")
        missing = [name for name in names if not request.headers.get(name)]
        if missing:
            raise Unauthorized(f"missing Standard Webhooks header {', '.join(missing)}")
        msg_id, stamp, signature = (request.headers[name] for name in names)
        if not re.fullmatch(r"[0-9]{1,12}", stamp.strip()):
            raise Unauthorized("webhook-timestamp is not a Unix time in seconds")
        _check_age("webhook-timestamp", int(stamp), now, self.tolerance)
        given = []
        for part in signature.split():
            version, _, encoded = part.partition(",")
            decoded = _decode(encoded, "base64") if version == "v1" else None
            if decoded is not None:
                given.append(decoded)
        if not given:
            raise Unauthorized("webhook-signature holds no v1,<base64> signature")
        signed = f"{msg_id}.{stamp.strip()}.".encode() + request.body
        expected = [hmac.new(key, signed, hashlib.sha256).digest() for key in self.keys]
        if not _matches_any(given, expected):
            raise Unauthorized("webhook-signature does not match")


def _matches_any(given: Sequence[bytes], expected: Sequence[bytes]) -> bool:
    # Compare every pair without stopping early, so timing does not tell which secret matched.
    matched = False
    for candidate in given:
        for value in expected:
            matched |= hmac.compare_digest(candidate, value)
    return matched


def _timestamp(request: InboundRequest, header: str, now: float, tolerance: int) -> str:
    """The HMAC timestamp header's text, once it is checked to be within tolerance of now."""
    text = request.headers.get(header.lower(), "").strip()
    if not _SECONDS.fullmatch(text):
        raise Unauthorized(f"{header} must hold the Unix time in seconds or milliseconds")
    value = float(text)
    _check_age(header, value / 1000 if value >= 1e11 else value, now, tolerance)  # 1e11 s: AD 5138
    return text


def _check_age(header: str, stamp: float, now: float, tolerance: int) -> None:
    age = now - stamp
    if age > tolerance:
        raise Unauthorized(f"{header} is {age:.0f} s old; tolerance is {tolerance} s")
    if -age > tolerance:
        raise Unauthorized(
            f"{header} is {-age:.0f} s in the future; tolerance is {tolerance} s; "
            "check the sender's clock"
        )


def _check_tolerance(tolerance: int, where: str) -> None:
    if tolerance <= 0:
        raise ConfigError(f"{where}.tolerance: must be a positive number of seconds")


def _decode(text: str, encoding: str) -> bytes | None:
    try:
        if encoding == "hex":
            return bytes.fromhex(text)
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except ValueError:
        return None


def _secrets(value: str | list[str], where: str, *, required: bool = True) -> list[bytes]:
    values = [value] if isinstance(value, str) else value
    if required and not values:
        raise ConfigError(f"{where}: at least one secret is needed")
    for i, secret in enumerate(values):
        if not secret:
            raise ConfigError(f"{where}[{i}]: must not be empty")
    return [secret.encode() for secret in values]


def _networks(values: list[str], where: str) -> list[_Network]:
    networks = []
    for i, value in enumerate(values):
        try:
            networks.append(ipaddress.ip_network(value.strip()))
        except ValueError as exc:
            raise ConfigError(f"{where}[{i}]: not a CIDR network: {exc}") from None
    return networks


def _in_any(text: str, networks: Sequence[_Network]) -> bool:
    """Whether an address is in any of the networks; text that is no address is in none."""
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # a dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d
    return any(address in network for network in networks)


# Keyed by id(); the cached source is kept alive so its id cannot be reused while cached.
_verifiers: dict[int, tuple[SourceConfig, SourceVerifier]] = {}


def verifier_for(source: SourceConfig) -> SourceVerifier:
    """The cached verifier of a source (config objects are not changed after load)."""
    cached = _verifiers.get(id(source))
    if cached is None or cached[0] is not source:
        if len(_verifiers) >= 1024:
            _verifiers.clear()
        cached = _verifiers[id(source)] = (source, SourceVerifier(source))
    return cached[1]


def verify_request(source: SourceConfig, request: InboundRequest, *, now: float) -> list[str]:
    """Run a source's checks on a request; return `verified_by`, or raise `Unauthorized`."""
    return verifier_for(source).verify(request, now)


def client_address(source: SourceConfig, request: InboundRequest) -> str:
    """The real client address of a request to this source (see `SourceVerifier.client_address`)."""
    return verifier_for(source).client_address(request)
