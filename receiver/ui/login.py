"""`/ui/login` and `/ui/logout`: an API token opens a session; logging out ends it.

A wrong token counts against the client's address exactly as on the admin API (one lockout
for both), and every login, refusal and logout is logged with the token's name, never its
value.
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any

import structlog
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import Redirect

from vidhook.receiver.api_auth import TokenTable, client_address, grants
from vidhook.receiver.config import Settings
from vidhook.receiver.handler_parts import Clock
from vidhook.receiver.store import Store
from vidhook.receiver.ui.sessions import (
    LOGIN_CSRF_COOKIE,
    Viewer,
    check_csrf,
    end_session,
    login_csrf_cookie,
    start_session,
)
from vidhook.receiver.ui.templating import page

__all__ = ["LoginController", "safe_next"]

log = structlog.get_logger("vidhook")

Next = Annotated[str | None, QueryParameter(name="next", max_length=2000)]


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a dashboard path only, never another site."""
    if target and target.startswith("/ui") and not any(c in target for c in "\\\r\n"):
        return target
    return "/ui/events"


def _login_page(
    settings: Settings, status_code: int = 200, error: str | None = None, target: str = ""
) -> Response[str]:
    csrf = secrets.token_urlsafe(32)
    response = page(
        "login.html", status_code, viewer=None, csrf=csrf, error=error, next=target, title="Log in"
    )
    response.set_cookie(login_csrf_cookie(settings, csrf))
    return response


class LoginController(Controller):
    """Log in with an API token; log out."""

    path = "/"
    include_in_schema = False

    @get("/login")
    async def login_form(
        self,
        settings: NamedDependency[Settings],
        target: Next = None,
        bye: Annotated[bool, QueryParameter()] = False,
    ) -> Response[str]:
        """The login form."""
        note = "You are logged out." if bye else None
        return _login_page(settings, error=note, target=safe_next(target))

    @post("/login")
    async def login(
        self,
        request: Request[Any, Any, Any],
        store: NamedDependency[Store],
        settings: NamedDependency[Settings],
        clock: NamedDependency[Clock],
    ) -> Response[Any]:
        """Check the token; on success start a session and go where the form said."""
        form = await request.form()
        check_csrf(request.cookies.get(LOGIN_CSRF_COOKIE, ""), form)
        tokens: TokenTable = request.app.state.api_tokens
        client = client_address(request)
        now = clock()
        tokens.failed_logins.check(client, now)
        value = form.get("token")
        token = tokens.find(value.strip()) if isinstance(value, str) and value.strip() else None
        target = safe_next(form.get("next") if isinstance(form.get("next"), str) else None)
        if token is None:
            locked = tokens.failed_logins.failed(client, now)
            log.warning("dashboard login refused", client=client, locked_out=locked)
            return _login_page(settings, 401, "That token is not a configured API token.", target)
        if not grants(token, "read"):
            log.warning("dashboard login refused", client=client, token=token.name, scope="read")
            return _login_page(settings, 403, f"Token {token.name!r} has no read scope.", target)
        cookie = await start_session(store, settings, clock, token)
        log.info("dashboard login", token=token.name, client=client)
        redirect = Redirect(target, status_code=303)
        redirect.set_cookie(cookie)
        redirect.delete_cookie(LOGIN_CSRF_COOKIE, path="/ui")
        return redirect

    @post("/logout")
    async def logout(
        self,
        request: Request[Any, Any, Any],
        store: NamedDependency[Store],
        settings: NamedDependency[Settings],
        viewer: NamedDependency[Viewer],
    ) -> Response[Any]:
        """End the session."""
        check_csrf(viewer.csrf, await request.form())
        cookie = await end_session(store, settings, viewer)
        log.info("dashboard logout", token=viewer.name)
        redirect = Redirect("/ui/login?bye=true", status_code=303)
        redirect.set_cookie(cookie)
        return redirect
