"""Templates for a group's message (a grouped rule's slack and email sinks): the count, the
group key, the first few events, and links to the rest.

A group template sees `group` (see `GroupView`), `events` (the first few, each with `event`,
`status_emoji`, `headline` and `generation_time`, as a single-event template sees them) and
the filters of `routes/templates.py`. The link to the rest is the dashboard's event list
filtered by the group key and the group's time span (`{public_url}/ui/events?...`); the same
filter on the admin API is `group.admin_query` (`/admin/events?...`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import jinja2

from vidhook.receiver.errors import ConfigError
from vidhook.receiver.event import rfc3339
from vidhook.receiver.store.records import GroupBatch
from vidhook.routes.templates import (
    STATUS_EMOJI,
    RenderError,
    sample_event,
    template_context,
    template_environment,
)

__all__ = [
    "ADMIN_FILTERS",
    "DASHBOARD_FILTERS",
    "GroupTemplate",
    "GroupView",
    "compile_group_template",
    "group_emoji",
    "sample_batch",
]

# Group key paths each event list can filter by, and the query parameter of each: the
# dashboard's list takes one label, the admin API's every label and the provider and model too.
DASHBOARD_FILTERS = {"source": "source", "type": "type", "status": "status", "task_id": "task_id"}
ADMIN_FILTERS = {**DASHBOARD_FILTERS, "provider": "provider", "model": "model"}


def group_emoji(batch: GroupBatch) -> str:
    """❌ when every shown event failed, ✅ when all completed, else 🔔."""
    statuses = {event.status for event in batch.events}
    if len(statuses) == 1:
        return STATUS_EMOJI.get(statuses.pop(), "🔔")
    return "🔔"


def _after(moment: str) -> str:
    """One second after an RFC 3339 time: the list's `until` is exclusive."""
    try:
        parsed = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    except ValueError:
        return moment
    return rfc3339(parsed + timedelta(seconds=1))


def _query(batch: GroupBatch, *, dashboard: bool) -> str:
    """The list's filter for a group: its key's filterable values and its time span."""
    filters = DASHBOARD_FILTERS if dashboard else ADMIN_FILTERS
    params: list[tuple[str, str]] = []
    labels = 0
    for path, value in batch.key:
        if path in filters and value:
            params.append((filters[path], value))
        elif path.startswith("labels.") and value and not (dashboard and labels):
            labels += 1
            params.append(("label", f"{path.removeprefix('labels.')}:{value}"))
    if batch.since:
        params.append(("since", batch.since))
    if batch.until:
        params.append(("until", _after(batch.until)))
    return urlencode(params)


@dataclass(frozen=True)
class GroupView:
    """What a group template sees as `group`: `count`, `more` (beyond the shown events),
    `key` ((path, value) pairs), `key_text` (`source=vibegen, type=task.failed`), `rule`,
    `headline` (`200 events: ...`), `emoji`, `since`, `until`, `link` (the dashboard's
    list) and `admin_query` (the admin API's)."""

    count: int
    more: int
    key: list[tuple[str, str]]
    key_text: str
    rule: str
    headline: str
    emoji: str
    since: str
    until: str
    link: str
    admin_query: str

    @classmethod
    def of(cls, batch: GroupBatch, public_url: str) -> GroupView:
        """The view of a batch; links start with `public_url`."""
        key_text = ", ".join(f"{path}={value or '-'}" for path, value in batch.key)
        noun = "event" if batch.count == 1 else "events"
        return cls(
            count=batch.count,
            more=max(0, batch.count - len(batch.events)),
            key=batch.key,
            key_text=key_text or f"rule {batch.rule}",
            rule=batch.rule,
            headline=f"{batch.count} {noun}: {key_text or batch.rule}",
            emoji=group_emoji(batch),
            since=batch.since,
            until=batch.until,
            link=f"{public_url.rstrip('/')}/ui/events?{_query(batch, dashboard=True)}",
            admin_query=f"/admin/events?{_query(batch, dashboard=False)}",
        )


def group_context(batch: GroupBatch, public_url: str) -> dict[str, Any]:
    """What every group template sees."""
    return {
        "group": GroupView.of(batch, public_url),
        "events": [template_context(event) for event in batch.events],
    }


class GroupTemplate:
    """A compiled group template."""

    def __init__(self, template: jinja2.Template, where: str) -> None:
        self._template = template
        self.where = where

    def render(self, batch: GroupBatch, public_url: str) -> str:
        """Render for this group; any failure is a RenderError naming the template."""
        try:
            return self._template.render(group_context(batch, public_url))
        except Exception as exc:  # a user's template can fail in any way; none may escape raw
            raise RenderError(f"{self.where}: cannot render: {type(exc).__name__}: {exc}") from exc


def compile_group_template(source: str, *, where: str, html: bool = False) -> GroupTemplate:
    """Compile a group template and try it on a sample group (see `compile_template`)."""
    try:
        template_environment(html=html, strict=True).from_string(source).render(
            group_context(sample_batch(), "https://vidhook.example.com")
        )
        template = template_environment(html=html, strict=False).from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise ConfigError(f"{where}: template syntax error on line {exc.lineno}: {exc}") from None
    except Exception as exc:  # the trial render runs user code; report whatever it raised
        raise ConfigError(f"{where}: template error: {type(exc).__name__}: {exc}") from None
    return GroupTemplate(template, where)


def sample_batch() -> GroupBatch:
    """A group of sample events for trial renders."""
    event = sample_event()
    return GroupBatch(
        id="01890000-0000-7000-8000-0000000000aa",
        rule="sample",
        key=[("source", event.source), ("labels.team", "video")],
        count=7,
        events=[event, event],
        since=event.received_at,
        until=event.received_at,
    )
