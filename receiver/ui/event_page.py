"""`/ui/events/{id}`: one event with its video, raw request and delivery timeline, and its
"Replay" form (admin tokens only; every replay is logged with the token's name).

The page reads through the admin API's `event_detail` and replays through the same
`Replayer`, so both surfaces show and do the same thing.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
import structlog
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect

from vidhook.receiver.admin.events import event_detail
from vidhook.receiver.admin.schemas import AttemptView, EventDetail
from vidhook.receiver.archive_setup import Archive
from vidhook.receiver.errors import Forbidden
from vidhook.receiver.event import Event
from vidhook.receiver.handler_parts import Clock, Sinks
from vidhook.receiver.id_prefix import resolve_event_id
from vidhook.receiver.replay import Replayer
from vidhook.receiver.store import Store
from vidhook.receiver.ui.sessions import Viewer, check_csrf
from vidhook.receiver.ui.templating import page
from vidhook.routes.escaping import is_web_url

__all__ = ["EventPageController", "Video", "signed_afresh", "videos_of"]

log = structlog.get_logger("vidhook")

# Providers' own video links commonly expire after a day; past that the page says so.
PROVIDER_LINK_HOURS = 24


class Video(msgspec.Struct, kw_only=True):
    """One video of a completed task as the page plays it: `src` is vidhook's archived copy
    when there is one, else the provider's link; None when neither is an http(s) URL."""

    number: int
    src: str | None
    shown: str
    archived: bool
    may_have_expired: bool


def _age_hours(event: Event, now: float) -> float:
    try:
        received = datetime.fromisoformat(event.received_at.replace("Z", "+00:00"))
    except ValueError:
        return 0.0
    return (now - received.astimezone(UTC).timestamp()) / 3600


def videos_of(event: Event, now: float) -> list[Video]:
    """The videos the page offers to play: only for a completed task, one per video URL."""
    if event.status != "completed":
        return []
    old = _age_hours(event, now) > PROVIDER_LINK_HOURS
    found = []
    for number, url in enumerate(event.video_urls):
        archived = event.archived_urls[number] if number < len(event.archived_urls) else None
        if archived and is_web_url(archived):
            found.append(Video(number=number, src=archived, shown=archived, archived=True,
                               may_have_expired=False))  # fmt: skip
            continue
        src = url if is_web_url(url) else None
        found.append(Video(number=number, src=src, shown=url, archived=False,
                           may_have_expired=old and src is not None))  # fmt: skip
    return found


async def signed_afresh(archive: Archive | None, store: Store, event: Event) -> Event:
    """The event with its archived links signed now (not stored): a stored signed link may
    have expired, the player's works for a full `link_expiry`."""
    if archive is None or not any(event.archived_urls):
        return event
    linker = await archive.links.linker()
    fresh = linker(event, await store.archive_jobs_of(event.id))
    return msgspec.structs.replace(event, archived_urls=fresh)


def _timeline(detail: EventDetail) -> dict[str, list[AttemptView]]:
    attempts: dict[str, list[AttemptView]] = defaultdict(list)
    for attempt in detail.attempts:
        attempts[attempt.delivery_id].append(attempt)
    return attempts


class EventPageController(Controller):
    """One event, and replaying it."""

    path = "/events"
    include_in_schema = False

    @get("/{event_id:str}")
    async def show(
        self,
        event_id: FromPath[str],
        store: NamedDependency[Store],
        clock: NamedDependency[Clock],
        sinks_by_name: NamedDependency[Sinks],
        archive: NamedDependency[Archive | None],
        viewer: NamedDependency[Viewer],
        replayed: Annotated[str, QueryParameter(max_length=2000)] = "",
    ) -> Response[str]:
        """The event page; `replayed` names the deliveries a replay just made."""
        detail = await event_detail(store, event_id[:200])
        now = clock()
        event = await signed_afresh(archive, store, detail.event)
        return page(
            "event.html",
            viewer=viewer,
            title=f"Event {detail.event.task_id}",
            detail=detail,
            event=event,
            now=now,
            videos=videos_of(event, now),
            attempts=_timeline(detail),
            replayed=set(replayed.split(",")) if replayed else set(),
            sinks=sorted(sinks_by_name),
        )

    @post("/{event_id:str}/replay")
    async def replay(
        self,
        event_id: FromPath[str],
        request: Request[Any, Any, Any],
        store: NamedDependency[Store],
        replayer: NamedDependency[Replayer],
        viewer: NamedDependency[Viewer],
    ) -> Redirect:
        """Replay the event through the current rules, or to the ticked sinks; then show the
        event page with the new deliveries marked."""
        form = await request.form()
        check_csrf(viewer.csrf, form)
        if not viewer.can_act:
            log.warning("dashboard replay refused", token=viewer.name, event_id=event_id[:64])
            raise Forbidden(f"API token {viewer.name!r} lacks the 'admin' scope")
        chosen = [name for name in form.getall("sink") if isinstance(name, str)]
        event_id = await resolve_event_id(store, event_id[:200])
        made = await replayer.replay_event(event_id, chosen or None)
        log.info(
            "dashboard replay", token=viewer.name, event_id=event_id,
            sinks=[d.sink for d in made], deliveries=[d.id for d in made],
        )  # fmt: skip
        ids = ",".join(d.id for d in made)
        return Redirect(f"/ui/events/{event_id}?replayed={ids}#deliveries", status_code=303)
