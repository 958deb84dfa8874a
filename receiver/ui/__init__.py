"""The dashboard under `/ui`: server-rendered pages for operators (SPEC section 9).

Mounted on the main app only, never on the public listener. Pages are Litestar controllers
that return `page("name.html", viewer=viewer, title=..., ...)`; templates extend `base.html`.

Adding a page:
1. A controller in its own module here; each handler takes `viewer: NamedDependency[Viewer]` (the
   dependency that refuses anyone not logged in) and the parts of the instance it reads, each
   by name and type (`store: NamedDependency[Store]`, `clock: NamedDependency[Clock]`; the
   names are in `vidhook.receiver.handler_parts`), never the whole `Services`.
2. A template `templates/NAME.html` that `{% extends "base.html" %}` and fills `content`;
   the filters `when`, `badge`, `link` and `pretty_body` are in `templating.py`.
3. Its controller in `PAGES` below and its entry in `nav.NAV`.
Forms that change anything POST, carry `{{ csrf_field(viewer) }}`, call
`check_csrf(viewer.csrf, await request.form())` first, then require `viewer.can_act`
(the `admin` scope) and log the action with `viewer.name`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from litestar import Request, Response, Router
from litestar.di import Provide
from litestar.exceptions import HTTPException
from litestar.response import Redirect

from vidhook.receiver.errors import RateLimited, VidhookError
from vidhook.receiver.ui.deliveries import DeliveriesController
from vidhook.receiver.ui.event_page import EventPageController
from vidhook.receiver.ui.events import EventsController
from vidhook.receiver.ui.login import LoginController
from vidhook.receiver.ui.rules import RulesController
from vidhook.receiver.ui.sessions import LoginRequired, viewer
from vidhook.receiver.ui.sinks import SinksController
from vidhook.receiver.ui.static import static_file
from vidhook.receiver.ui.tasks import TasksController
from vidhook.receiver.ui.templating import page
from vidhook.receiver.ui.usage import UsageController

__all__ = ["PAGES", "ui_router"]

# Every controller of the dashboard: one line per page module.
PAGES: list[Any] = [
    LoginController,
    EventsController,
    EventPageController,
    DeliveriesController,
    SinksController,
    TasksController,
    RulesController,
    UsageController,
    static_file,
]


def _login_required(request: Request[Any, Any, Any], _: LoginRequired) -> Response[Any]:
    """Not logged in: to the login page, coming back here afterwards (htmx: a full redirect)."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    location = f"/ui/login?next={quote(target, safe='')}"
    if request.headers.get("hx-request"):
        return Response("", status_code=401, headers={"HX-Redirect": location})
    return Redirect(location, status_code=303)


def _error_page(_: Request[Any, Any, Any], exc: VidhookError) -> Response[str]:
    response = page("error.html", exc.status_code, viewer=None, title="Error", error=exc)
    if isinstance(exc, RateLimited):
        response.headers["Retry-After"] = str(max(1, int(exc.retry_after)))
    return response


def _http_error(_: Request[Any, Any, Any], exc: HTTPException) -> Response[str]:
    error = VidhookError(str(exc.detail), code="http_error")
    error.status_code = exc.status_code
    return page("error.html", exc.status_code, viewer=None, title="Error", error=error)


ui_router = Router(
    path="/ui",
    route_handlers=PAGES,
    dependencies={"viewer": Provide(viewer)},
    exception_handlers={
        LoginRequired: _login_required,
        VidhookError: _error_page,
        HTTPException: _http_error,
    },
    include_in_schema=False,
)
