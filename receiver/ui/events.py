"""`/ui/events`: stored events, newest first, filtered and paged; `/ui/live` sends the rows
that arrived since the newest one shown, under the same filter (the page polls it with htmx;
without JavaScript the list reads the same, a reload shows new events).

The listing is the admin API's: the same filter parsing (`event_filter`) and the same store
statement, with the id of the last row shown as the cursor of the next page.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

import msgspec
from litestar import Controller, Response, get
from litestar.di import NamedDependency, Provide
from litestar.params import QueryParameter
from litestar.response import Redirect

from vidhook.receiver.errors import BadRequest
from vidhook.receiver.event_filter import build_filter
from vidhook.receiver.handler_parts import Clock, Sources
from vidhook.receiver.identifiers import MAX_VALUE
from vidhook.receiver.store import Store
from vidhook.receiver.store.records import EventFilter, StoredEvent
from vidhook.receiver.ui.sessions import Viewer
from vidhook.receiver.ui.templating import page

__all__ = ["PAGE_SIZE", "EventQuery", "EventsController"]

PAGE_SIZE = 50
STATUSES = ("pending", "processing", "completed", "failed", "cancelled", "expired")
TYPES = ("task.completed", "task.failed", "task.progress")

Text = Annotated[str, QueryParameter(max_length=MAX_VALUE)]
Moment = Annotated[str, QueryParameter(max_length=64)]
Cursor = Annotated[str, QueryParameter(max_length=64)]


class EventQuery(msgspec.Struct, kw_only=True):
    """The list's filter as written in its form and its links: empty text means "any"."""

    source: str = ""
    type: str = ""
    status: str = ""
    task_id: str = ""
    label: str = ""
    since: str = ""
    until: str = ""

    def to_filter(self, now: float, cursor: str | None = None) -> EventFilter:
        """The store's filter (BadRequest for a time or label that does not read)."""
        labels = {}
        if self.label.strip():
            text = self.label.strip()
            key, sep, value = text.partition("=") if "=" in text else text.partition(":")
            labels = {key.strip(): value.strip()} if sep and key.strip() else {"": text}
        if "" in labels:
            raise BadRequest(f"label: {self.label[:100]!r} is not key=value, e.g. team=growth")
        return build_filter(
            now=now, since=self.since.strip() or None, until=self.until.strip() or None,
            labels=labels, cursor=cursor,
            source=self.source or None, type=self.type or None, status=self.status or None,
            task_id=self.task_id.strip() or None,
        )  # fmt: skip

    def query(self, **extra: str) -> str:
        """The filter (and `extra`) as a URL query string, empty values left out."""
        fields = {k: v for k, v in msgspec.structs.asdict(self).items() if v} | extra
        return urlencode({k: v for k, v in fields.items() if v})


def event_query(
    source: Text = "",
    event_type: Annotated[str, QueryParameter(name="type", max_length=32)] = "",
    status: Annotated[str, QueryParameter(max_length=32)] = "",
    task_id: Text = "",
    label: Annotated[str, QueryParameter(max_length=2 * MAX_VALUE)] = "",
    since: Moment = "",
    until: Moment = "",
) -> EventQuery:
    """Dependency: the list's filter from the query string."""
    return EventQuery(
        source=source, type=event_type, status=status, task_id=task_id, label=label,
        since=since, until=until,
    )  # fmt: skip


def _rows_context(rows: list[StoredEvent], clock: Clock) -> dict[str, Any]:
    return {"rows": rows, "now": clock()}


class EventsController(Controller):
    """The events list and its live rows."""

    path = "/"
    include_in_schema = False
    dependencies = {"wanted": Provide(event_query, sync_to_thread=False)}

    @get("/")
    async def home(self) -> Redirect:
        """The dashboard's first page is the events list."""
        return Redirect("/ui/events", status_code=303)

    @get("/events")
    async def events(
        self,
        store: NamedDependency[Store],
        clock: NamedDependency[Clock],
        sources_by_name: NamedDependency[Sources],
        viewer: NamedDependency[Viewer],
        wanted: NamedDependency[EventQuery],
        cursor: Cursor = "",
    ) -> Response[str]:
        """One page of events, newest first."""
        where = wanted.to_filter(clock(), cursor or None)
        rows = await store.list_events(where, PAGE_SIZE + 1)
        more = len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE]
        return page(
            "events.html",
            viewer=viewer,
            title="Events",
            query=wanted,
            cursor=cursor,
            next_cursor=rows[-1].event.id if more else None,
            newest=rows[0].event.id if rows else "",
            sources=sorted(sources_by_name),
            statuses=STATUSES,
            types=TYPES,
            **_rows_context(rows, clock),
        )

    @get("/live")
    async def live(
        self,
        store: NamedDependency[Store],
        clock: NamedDependency[Clock],
        viewer: NamedDependency[Viewer],
        wanted: NamedDependency[EventQuery],
        after: Cursor = "",
    ) -> Response[str]:
        """The rows newer than `after` under the filter, and the poller that asks again from
        the newest of them; 204 (nothing to swap, polling goes on) when there are none."""
        newest = await store.list_events(wanted.to_filter(clock()), PAGE_SIZE)
        fresh = [row for row in newest if row.event.id > after]
        if not fresh:
            return Response("", status_code=204)
        return page(
            "live.html",
            viewer=viewer,
            query=wanted,
            newest=fresh[0].event.id,
            overflow=len(fresh) == PAGE_SIZE,
            **_rows_context(fresh, clock),
        )
