"""The dashboard's templates: one autoescaping Jinja2 environment, its filters, and `page()`.

Every value a provider sent is data: templates print it with `{{ }}` (escaped), links come only
from `link` (http and https URLs; anything else prints as text), and no template marks a value
safe. Filters and globals every page may use:

    when(value)         `<time datetime title>` with the time relative to now ("3 min ago")
    badge(status)       a status or delivery state as icon and word, coloured by class
    link(url, label)    a link for an http(s) URL, else the URL as text
    web_url (a test)    `{% if url is web_url %}`
    pretty_body(text)   a body as indented JSON when it is JSON, else as it is
    csrf_field(viewer)  the hidden CSRF input every POST form carries
    nav                 the pages in the header (`nav.NAV`)
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from functools import cache
from importlib.resources import files
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from litestar import MediaType, Response
from markupsafe import Markup

from vidhook.receiver.ui.nav import NAV
from vidhook.routes.escaping import html_link, is_web_url

__all__ = ["HTMX_VERSION", "badge", "csrf_field", "page", "pretty_body", "relative", "when"]

HTMX_VERSION = "2.0.11"

# Headers of every dashboard answer: nothing from elsewhere runs, nothing frames the page.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; media-src 'self' http: https:; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

# Icon and word for each status and delivery state: never colour alone.
_BADGES: dict[str, tuple[str, str]] = {
    "completed": ("✓", "ok"),
    "delivered": ("✓", "ok"),
    "failed": ("✕", "bad"),
    "dead": ("✕", "bad"),
    "rejected": ("⊘", "bad"),
    "cancelled": ("⊘", "muted"),
    "expired": ("⌛", "muted"),
    "pending": ("…", "wait"),
    "processing": ("↻", "wait"),
    "held": ("⏸", "wait"),
    "retry": ("↻", "wait"),
}


def relative(seconds: float) -> str:
    """An age in words: "just now", "5 s ago", "3 min ago", "2 h ago", "4 d ago"."""
    if seconds < 0:
        return "in the future"
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{int(seconds // size)} {unit} ago"
    return "just now" if seconds < 1 else f"{int(seconds)} s ago"


def _moment(value: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def when(value: str | None, now: float | None = None) -> Markup:
    """A stored RFC 3339 time as `<time>`: relative text, the exact time on hover."""
    if not value:
        return Markup("—")
    moment = _moment(value)
    if moment is None:
        return Markup("{}").format(value)
    age = (time.time() if now is None else now) - moment.timestamp()
    return Markup('<time datetime="{0}" title="{0}">{1}</time>').format(value, relative(age))


def badge(status: str) -> Markup:
    """A status badge: icon, word and a colour class."""
    icon, tone = _BADGES.get(status, ("•", "muted"))
    return Markup(
        '<span class="badge tone-{0}"><span aria-hidden="true">{1}</span> {2}</span>'
    ).format(tone, icon, status)


def csrf_field(viewer: Any) -> Markup:
    """The hidden CSRF field of a form of `viewer`'s session."""
    return Markup('<input type="hidden" name="csrf_token" value="{}">').format(viewer.csrf)


def pretty_body(text: str) -> str:
    """A request body for reading: indented JSON when it parses, else the text as stored."""
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text


@cache
def environment() -> Environment:
    """The dashboard's Jinja2 environment (templates from the package, autoescaped)."""
    folder = str(files("vidhook.receiver.ui") / "templates")
    env = Environment(
        loader=FileSystemLoader(folder),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(when=when, badge=badge, link=html_link, pretty_body=pretty_body)
    env.tests["web_url"] = is_web_url
    env.globals.update(htmx_version=HTMX_VERSION, csrf_field=csrf_field, nav=NAV)
    return env


def render(template: str, **context: Any) -> str:
    """A template rendered with `context`."""
    return environment().get_template(template).render(**context)


def page(template: str, status_code: int = 200, **context: Any) -> Response[str]:
    """An HTML answer: `template` rendered with `context` and the security headers."""
    return Response(
        render(template, **context),
        status_code=status_code,
        media_type=MediaType.HTML,
        headers=SECURITY_HEADERS,
    )
