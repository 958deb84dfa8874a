"""Dashboard sessions: a random cookie naming a session kept in the store, and the CSRF token
every form of that session carries.

The cookie holds only a random id (HttpOnly, SameSite=Strict, Path=/ui, Secure when
`server.public_url` is https); the store keeps its SHA-256 with the name of the API token that
logged in, so sessions work across instances and restarts, and the token's scopes are read
from the config at every request (a token removed from the config ends its sessions).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from typing import Any

import msgspec
from litestar import Request
from litestar.datastructures import Cookie
from litestar.di import NamedDependency

from vidhook.receiver.api_auth import TokenTable, grants
from vidhook.receiver.config import ApiToken, Settings
from vidhook.receiver.errors import Forbidden, Unauthorized
from vidhook.receiver.handler_parts import Clock
from vidhook.receiver.store import Store
from vidhook.receiver.store.store_sessions import SessionRecord

__all__ = [
    "LOGIN_CSRF_COOKIE",
    "SESSION_COOKIE",
    "SESSION_SECONDS",
    "CsrfRefused",
    "LoginRequired",
    "Viewer",
    "check_csrf",
    "end_session",
    "login_csrf_cookie",
    "session_cookie",
    "start_session",
    "viewer",
]

SESSION_COOKIE = "vidhook_session"
# The login form's CSRF token, before there is a session to keep it in (double submit).
LOGIN_CSRF_COOKIE = "vidhook_login_csrf"
SESSION_SECONDS = 12 * 3600
CSRF_FIELD = "csrf_token"


class LoginRequired(Unauthorized):
    """Log in to see this page."""

    code = "login_required"


class CsrfRefused(Forbidden):
    """The form's CSRF token is missing or wrong; reload the page and send the form again."""

    code = "csrf_refused"


class Viewer(msgspec.Struct, frozen=True):
    """Who is looking: the API token that logged in, and the CSRF token of their forms."""

    token: ApiToken
    csrf: str
    key: str

    @property
    def name(self) -> str:
        """The API token's name, as logs and the page header show it."""
        return self.token.name

    @property
    def can_act(self) -> bool:
        """Whether this viewer may replay and retry (the `admin` scope)."""
        return grants(self.token, "admin")


def _key(cookie: str) -> str:
    return hashlib.sha256(cookie.encode()).hexdigest()


def _secure(settings: Settings) -> bool:
    return settings.server.public_url.lower().startswith("https://")


def session_cookie(settings: Settings, value: str, max_age: int) -> Cookie:
    """The session cookie (or, with `max_age` 0, the one that deletes it)."""
    return Cookie(
        key=SESSION_COOKIE,
        value=value,
        path="/ui",
        max_age=max_age,
        httponly=True,
        samesite="strict",
        secure=_secure(settings),
    )


def login_csrf_cookie(settings: Settings, value: str) -> Cookie:
    """The login form's CSRF cookie, matched against the form's hidden field."""
    return Cookie(
        key=LOGIN_CSRF_COOKIE,
        value=value,
        path="/ui",
        max_age=3600,
        httponly=True,
        samesite="strict",
        secure=_secure(settings),
    )


async def start_session(store: Store, settings: Settings, clock: Clock, token: ApiToken) -> Cookie:
    """Keep a new session for `token`; return the cookie that names it."""
    value = secrets.token_urlsafe(32)
    now = clock()
    record = SessionRecord(
        token_name=token.name, csrf=secrets.token_urlsafe(32), expires_at=now + SESSION_SECONDS
    )
    await store.create_session(_key(value), record, now=now)
    return session_cookie(settings, value, SESSION_SECONDS)


async def end_session(store: Store, settings: Settings, current: Viewer) -> Cookie:
    """Delete the session from the store; return the cookie that clears it."""
    await store.delete_session(current.key)
    return session_cookie(settings, "", 0)


async def viewer(
    request: Request[Any, Any, Any], store: NamedDependency[Store], clock: NamedDependency[Clock]
) -> Viewer:
    """Dependency: the logged-in viewer, or LoginRequired (the pages answer with the login
    page). A session whose token is no longer configured is refused too."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        raise LoginRequired()
    key = _key(cookie)
    record = await store.get_session(key, now=clock())
    tokens: TokenTable = request.app.state.api_tokens
    token = tokens.named(record.token_name) if record else None
    if record is None or token is None:
        raise LoginRequired()
    return Viewer(token=token, csrf=record.csrf, key=key)


def check_csrf(expected: str, form: Mapping[str, Any]) -> None:
    """Refuse (CsrfRefused) a form whose `csrf_token` field is not `expected`."""
    given = form.get(CSRF_FIELD)
    if not isinstance(given, str) or not expected:
        raise CsrfRefused()
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise CsrfRefused()
