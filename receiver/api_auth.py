"""Bearer-token authentication for the admin and submit APIs, by scope.

API tokens come from `[[api_tokens]]`; hook tokens never open these endpoints and API tokens
never open `/hooks/*`. A handler states the scope it needs in its `opt={"scope": ...}`.
`admin` implies `read` (whoever may replay may look); `submit` stands alone.
"""

from __future__ import annotations

import hmac
from typing import Any

import structlog
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from vidhook.receiver.config import ApiToken
from vidhook.receiver.errors import Forbidden, Unauthorized
from vidhook.receiver.failed_logins import FailedLogins
from vidhook.receiver.verify import ProxyTrust

__all__ = ["IMPLIED", "TokenTable", "client_address", "grants", "require_scope"]

log = structlog.get_logger("vidhook")

# Scopes a scope brings with it. `submit` is for applications and opens nothing else.
IMPLIED: dict[str, frozenset[str]] = {"admin": frozenset({"read"})}


def grants(token: ApiToken, scope: str) -> bool:
    """Whether `token` holds `scope`, itself or through a scope that implies it."""
    return any(held == scope or scope in IMPLIED.get(held, ()) for held in token.scopes)


class TokenTable:
    """The configured API tokens, checked in constant time."""

    def __init__(self, tokens: list[ApiToken], trusted_proxies: list[str] | None = None) -> None:
        self._tokens = [(t.token.encode(), t) for t in tokens]
        self.failed_logins = FailedLogins()
        self.trust = ProxyTrust(trusted_proxies or [], "server.trusted_proxies")

    def authenticate(self, header: str | None) -> ApiToken:
        """The token named by an `Authorization: Bearer` header, or Unauthorized."""
        if not header:
            raise Unauthorized("missing Authorization header; send 'Authorization: Bearer <token>'")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise Unauthorized("Authorization must be 'Bearer <token>'")
        found = self.find(value.strip())
        if found is None:
            raise Unauthorized("unknown API token")
        return found

    def find(self, value: str) -> ApiToken | None:
        """The token whose secret is `value`, compared in constant time; None if unknown."""
        given = value.encode()
        found = None
        for secret, token in self._tokens:
            if hmac.compare_digest(given, secret):
                found = token
        return found

    def named(self, name: str) -> ApiToken | None:
        """The configured token called `name` (sessions name their token), or None."""
        return next((token for _, token in self._tokens if token.name == name), None)

    def check(self, header: str | None, scope: str) -> ApiToken:
        """The token, if it holds `scope`; else Unauthorized or Forbidden."""
        token = self.authenticate(header)
        if not grants(token, scope):
            raise Forbidden(f"API token {token.name!r} lacks the {scope!r} scope")
        return token


def client_address(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    """The client's address, through `server.trusted_proxies`: what failed logins count by."""
    tokens: TokenTable = connection.app.state.api_tokens
    peer = connection.client.host if connection.client else ""
    return tokens.trust.client_address(peer, connection.headers.get("x-forwarded-for"))


def require_scope(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """Litestar guard: the request's bearer token must hold the handler's `opt["scope"]`.

    A failed login is logged with the client's address (never the token) and counted against
    that address; past the limit it gets 429 until its lockout ends.
    """
    scope = handler.opt.get("scope", "admin")
    tokens: TokenTable = connection.app.state.api_tokens
    now = connection.app.state.services.clock()
    client = client_address(connection)
    tokens.failed_logins.check(client, now)
    try:
        tokens.check(connection.headers.get("authorization"), scope)
    except Unauthorized as exc:
        locked = tokens.failed_logins.failed(client, now)
        log.warning(
            "api login refused", client=client, path=connection.url.path, reason=exc.message,
            locked_out=locked,
        )  # fmt: skip
        raise
