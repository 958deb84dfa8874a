"""Sandboxed Jinja2 templates for sink messages, compiled and checked once when a sink is built.

A template sees the event as `event` plus a few derived values (see `template_context`; its
`video_links` prefer the archived copy of each video), and
has the escaping filters of `routes/escaping.py` (`slack_escape`, `slack_link`, `html_link`,
`one_line`, `markdown_escape`, `markdown_link`, the test `web_url`) beside `duration`. Templates
render leniently at send time, so an absent label or optional field prints as nothing; at build time
they are rendered once against a sample event with undefined names refused, so a misspelt field or
an unsafe attribute fails at load with a ConfigError instead of in a delivery.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any

import jinja2
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from vidhook.receiver.errors import ConfigError
from vidhook.receiver.event import Credits, ErrorInfo, Event
from vidhook.routes.escaping import (
    html_link,
    is_web_url,
    markdown_escape,
    markdown_link,
    one_line,
    slack_escape,
    slack_link,
)

__all__ = [
    "STATUS_EMOJI",
    "MessageTemplate",
    "RenderError",
    "compile_template",
    "default_template",
    "format_duration",
    "generation_seconds",
    "headline",
    "sample_event",
    "slack_escape",
    "template_context",
    "template_environment",
    "video_links",
]

STATUS_EMOJI: dict[str, str] = {
    "pending": "⏳",
    "processing": "⏳",
    "completed": "✅",
    "failed": "❌",
    "cancelled": "🚫",
    "expired": "⌛",
}


class RenderError(Exception):
    """A template could not be rendered for this event."""


class _Sandbox(ImmutableSandboxedEnvironment):
    """The sandbox, immutable so a template cannot change the event other sinks will see, and
    with unsafe attribute access raising instead of quietly printing nothing."""

    def unsafe_undefined(self, obj: Any, attribute: str) -> jinja2.Undefined:
        raise SecurityError(f"access to attribute {attribute!r} of {type(obj).__name__} is unsafe")


def format_duration(seconds: float | None) -> str:
    """A duration as people read it: `45s`, `2m 05s`, `1h 02m`; empty for None."""
    if seconds is None:
        return ""
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def generation_seconds(event: Event) -> float | None:
    """How long the provider took: `finished_at - created_at`, or None when either is unknown."""
    if not event.created_at or not event.finished_at:
        return None
    try:
        start = datetime.fromisoformat(event.created_at.replace("Z", "+00:00"))
        end = datetime.fromisoformat(event.finished_at.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (end - start).total_seconds()


def headline(event: Event) -> str:
    """A short title for the event, such as `Video ready`."""
    if event.status == "completed":
        return "Video ready"
    if event.type == "task.failed":
        return f"Video {event.status}"
    return f"Video {event.status}" + (f" ({event.progress}%)" if event.progress is not None else "")


def video_links(event: Event) -> list[str]:
    """The link to give for each video: vidhook's archived copy where there is one (it keeps
    working), else the provider's own link (which expires)."""
    kept = event.archived_urls
    return [
        kept[n] if n < len(kept) and is_web_url(kept[n]) else url
        for n, url in enumerate(event.video_urls)
    ]


def template_context(event: Event) -> dict[str, Any]:
    """What every template sees: the event and values derived from it."""
    seconds = generation_seconds(event)
    return {
        "event": event,
        "video_links": video_links(event),
        "generation_seconds": seconds,
        "generation_time": format_duration(seconds),
        "status_emoji": STATUS_EMOJI.get(event.status, ""),
        "headline": headline(event),
    }


def template_environment(*, html: bool, strict: bool) -> jinja2.Environment:
    """The sandbox every message template runs in, with the escaping filters: autoescaped for
    HTML, and with undefined names refused when `strict` (the trial render at load)."""
    return _environment(html=html, strict=strict)


@cache
def _environment(*, html: bool, strict: bool) -> jinja2.Environment:
    env = _Sandbox(
        autoescape=html,
        undefined=jinja2.StrictUndefined if strict else jinja2.Undefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["duration"] = format_duration
    env.filters["slack_escape"] = slack_escape
    env.filters["slack_link"] = slack_link
    env.filters["html_link"] = html_link
    env.filters["one_line"] = one_line
    env.filters["markdown_escape"] = markdown_escape
    env.filters["markdown_link"] = markdown_link
    env.tests["web_url"] = is_web_url
    return env


class MessageTemplate:
    """A compiled template that renders one event to text."""

    def __init__(self, template: jinja2.Template, where: str) -> None:
        self._template = template
        self.where = where

    def render(self, event: Event) -> str:
        """Render for this event; any failure is a RenderError naming the template."""
        try:
            return self._template.render(template_context(event))
        except Exception as exc:  # a user's template can fail in any way; none may escape raw
            raise RenderError(f"{self.where}: cannot render: {type(exc).__name__}: {exc}") from exc


def compile_template(source: str, *, where: str, html: bool = False) -> MessageTemplate:
    """Compile a template and try it on a sample event; `where` names it in errors, such as
    `sinks.ops-slack.template`. Raises ConfigError on a syntax error, an unknown name or an
    unsafe attribute."""
    try:
        _environment(html=html, strict=True).from_string(source).render(
            template_context(sample_event())
        )
        template = _environment(html=html, strict=False).from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise ConfigError(f"{where}: template syntax error on line {exc.lineno}: {exc}") from None
    except Exception as exc:  # the trial render runs user code; report whatever it raised
        raise ConfigError(f"{where}: template error: {type(exc).__name__}: {exc}") from None
    return MessageTemplate(template, where)


@cache
def default_template(name: str) -> str:
    """The source of a bundled template, such as `slack_text` (from `templates/slack_text.j2`)."""
    return resources.files("vidhook.routes").joinpath("templates", f"{name}.j2").read_text("utf-8")


def sample_event() -> Event:
    """An event with every field filled and any label key answering, for trial renders: they
    fail only on a template's own mistakes."""
    labels: dict[str, str] = defaultdict(str, team="video")
    return Event(
        id="01890000-0000-7000-8000-000000000000",
        type="task.completed",
        source="sample",
        provider="sample",
        task_id="task-1",
        status="completed",
        provider_status="done",
        model="model-1",
        video_urls=["https://example.com/video.mp4"],
        error=ErrorInfo(message="sample error", code="sample_code"),
        progress=100,
        credits=Credits(reserved=1.0, refunded=False),
        labels=labels,
        created_at="2024-01-01T00:00:00.000Z",
        finished_at="2024-01-01T00:01:30.000Z",
        received_at="2024-01-01T00:01:31.000Z",
        verified_by=["token"],
        duration_s=5.0,
        resolution="720p",
        audio=True,
    )
