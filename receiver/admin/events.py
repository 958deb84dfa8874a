"""`/admin/events`: list and inspect stored events, and replay them."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from vidhook.receiver.admin.schemas import (
    AttemptView,
    EventDetail,
    EventPage,
    RawView,
    ReplayedEvent,
    ReplayEventRequest,
    ReplayRequest,
)
from vidhook.receiver.config import ProviderName
from vidhook.receiver.errors import NotFound
from vidhook.receiver.event import EventType, Status
from vidhook.receiver.event_filter import build_filter, parse_labels
from vidhook.receiver.handler_parts import Clock
from vidhook.receiver.http_errors import errors
from vidhook.receiver.id_prefix import resolve_event_id
from vidhook.receiver.identifiers import MAX_VALUE
from vidhook.receiver.replay import Replayer, ReplayResult
from vidhook.receiver.services import Services
from vidhook.receiver.store import Store

__all__ = ["EventsController", "ReplayController", "event_detail", "replayer"]

Text = Annotated[str | None, QueryParameter(max_length=MAX_VALUE)]
Since = Annotated[
    str | None,
    QueryParameter(
        max_length=64,
        description="received at or after: RFC 3339, or an age before now such as 30m, 12h, 7d",
    ),
]
Until = Annotated[
    str | None, QueryParameter(max_length=64, description="received before (as `since`)")
]
Labels = Annotated[
    list[str] | None,
    QueryParameter(name="label", description="label filter `key:value`, repeatable"),
]
Limit = Annotated[int, QueryParameter(ge=1, le=1000, description="page size")]
Cursor = Annotated[
    str | None, QueryParameter(max_length=64, description="`next_cursor` of the previous page")
]


async def event_detail(store: Store, event_id: str) -> EventDetail:
    """One event, named by its id or a unique prefix of it, with its raw request, deliveries
    and attempts; NotFound if unknown."""
    event_id = await resolve_event_id(store, event_id)
    stored = await store.get_event(event_id)
    if stored is None:
        raise NotFound(f"no event with id {event_id[:64]!r}", code="unknown_event")
    raw = await store.get_raw(event_id)
    return EventDetail(
        event=stored.event,
        stale=stored.stale,
        held=stored.held,
        note=stored.note,
        raw=RawView.of(raw) if raw else None,
        deliveries=await store.deliveries_of(event_id),
        attempts=[AttemptView.of(a) for a in await store.attempts_of(event_id)],
    )


def replayer(services: Services) -> Replayer:
    """The replayer over this instance's store, rules and sinks (the `replayer` part, built
    once by the app)."""
    cap = services.settings.server.max_replay_events
    links = None if services.archive is None else services.archive.links
    return Replayer(services.store, services.rules, services.sinks, services.clock, cap, links)


class EventsController(Controller):
    """Stored events: newest first, filtered, with their history; replays of one."""

    path = "/events"
    tags = ["admin: events"]

    @get("/", opt={"scope": "read"}, summary="List events", responses=errors())
    async def list_events(
        self,
        store: NamedDependency[Store],
        clock: NamedDependency[Clock],
        since: Since = None,
        until: Until = None,
        source: Text = None,
        provider: Annotated[ProviderName | None, QueryParameter()] = None,
        event_type: Annotated[EventType | None, QueryParameter(name="type")] = None,
        status: Annotated[Status | None, QueryParameter()] = None,
        task_id: Text = None,
        model: Text = None,
        sink: Annotated[
            str | None, QueryParameter(description="events routed to this sink")
        ] = None,
        labels: Labels = None,
        cursor: Cursor = None,
        limit: Limit = 100,
    ) -> EventPage:
        """Events matching every given filter, newest first, a page at a time. Scope: read."""
        where = build_filter(
            now=clock(), since=since, until=until, labels=parse_labels(labels),
            cursor=cursor,
            source=source, provider=provider, type=event_type, status=status,
            task_id=task_id, model=model, sink=sink,
        )  # fmt: skip
        rows = await store.list_events(where, limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        return EventPage(items=rows, next_cursor=rows[-1].event.id if more else None)

    @get(
        "/{event_id:str}",
        opt={"scope": "read"},
        summary="Show one event",
        responses=errors(404),
    )
    async def show_event(
        self, event_id: FromPath[str], store: NamedDependency[Store]
    ) -> EventDetail:
        """The event, its redacted raw request, its deliveries (replays too) and attempts.
        Scope: read."""
        return await event_detail(store, event_id)

    @post(
        "/{event_id:str}/replay",
        opt={"scope": "admin"},
        status_code=200,
        summary="Replay one event",
        responses=errors(404, 409),
    )
    async def replay_event(
        self,
        event_id: FromPath[str],
        store: NamedDependency[Store],
        replayer: NamedDependency[Replayer],
        data: JSONBody[ReplayEventRequest | None] = None,
    ) -> ReplayedEvent:
        """New deliveries of the event, marked replay, with new webhook ids: to `sinks`, or
        through the current rules when no sinks are named. The id may be a unique prefix.
        Scope: admin."""
        sinks = data.sinks if data else None
        event_id = await resolve_event_id(store, event_id)
        made = await replayer.replay_event(event_id, sinks)
        return ReplayedEvent(event_id=event_id, deliveries=made)


class ReplayController(Controller):
    """Bulk replay by filter."""

    path = "/replay"
    tags = ["admin: events"]

    @post(
        "/", opt={"scope": "admin"}, status_code=200, summary="Replay by filter", responses=errors()
    )
    async def replay(
        self,
        data: JSONBody[ReplayRequest],
        clock: NamedDependency[Clock],
        replayer: NamedDependency[Replayer],
    ) -> ReplayResult:
        """Replay every event matching the filter (held, rejected and stale events are
        skipped); with `dry_run`, only count the events and deliveries it would make. A filter
        matching more than `server.max_replay_events` events is refused. Scope: admin."""
        where = build_filter(
            now=clock(),
            since=data.since,
            until=data.until,
            labels=data.labels,
            **data.filter_fields(),
        )
        return await replayer.replay(where, data.sinks, dry_run=data.dry_run)
