"""`/ui/deliveries`: deliveries, dead ones first, by sink and state, each with its attempts;
"Retry" for one and "Retry all dead" for a sink (admin tokens, CSRF-checked, logged with the
token's name).

Retrying goes through `vidhook.receiver.retry`, as POST /admin/deliveries/{id}/retry and
POST /admin/sinks/{sink}/retry do, so the dashboard refuses and allows exactly what they do.
"""

from __future__ import annotations

from typing import Annotated, Any, get_args
from urllib.parse import urlencode

import structlog
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect

from vidhook.receiver.errors import BadRequest, Forbidden
from vidhook.receiver.handler_parts import Clock, Sinks
from vidhook.receiver.id_prefix import resolve_delivery_id
from vidhook.receiver.retry import retry_dead, retry_delivery
from vidhook.receiver.store import Store
from vidhook.receiver.store.records import AttemptRecord, DeliveryRow, DeliveryState
from vidhook.receiver.ui.sessions import Viewer, check_csrf
from vidhook.receiver.ui.templating import page

__all__ = ["DeliveriesController", "require_admin"]

log = structlog.get_logger("vidhook")

PAGE_SIZE = 50
STATES: tuple[str, ...] = get_args(DeliveryState)
Name = Annotated[str, QueryParameter(max_length=200)]
Cursor = Annotated[str, QueryParameter(max_length=64)]


async def require_admin(request: Request[Any, Any, Any], viewer: Viewer, action: str) -> None:
    """Refuse a form without the session's CSRF token, then a viewer without `admin`."""
    check_csrf(viewer.csrf, await request.form())
    if not viewer.can_act:
        log.warning(f"dashboard {action} refused", token=viewer.name)
        raise Forbidden(f"API token {viewer.name!r} lacks the 'admin' scope")


async def _attempts(store: Store, rows: list[DeliveryRow]) -> dict[str, list[AttemptRecord]]:
    """Each delivery's attempts, oldest first (one read per event shown)."""
    found: dict[str, list[AttemptRecord]] = {row.id: [] for row in rows}
    for event_id in dict.fromkeys(row.event_id for row in rows):
        for attempt in await store.attempts_of(event_id):
            if attempt.delivery_id in found:
                found[attempt.delivery_id].append(attempt)
    return found


def _state(text: str) -> DeliveryState | None:
    if text and text not in STATES:
        raise BadRequest(f"state: {text[:32]!r} is none of {', '.join(STATES)}")
    return text or None  # type: ignore[return-value]


class DeliveriesController(Controller):
    """The deliveries list and its retry buttons."""

    path = "/"
    include_in_schema = False

    @get("/deliveries")
    async def deliveries(
        self,
        store: NamedDependency[Store],
        sinks_by_name: NamedDependency[Sinks],
        clock: NamedDependency[Clock],
        viewer: NamedDependency[Viewer],
        sink: Name = "",
        # `state` is a name Litestar keeps for itself: the parameter is renamed on the way in.
        delivery_state: Annotated[str, QueryParameter(name="state", max_length=32)] = "",
        cursor: Cursor = "",
        done: Annotated[str, QueryParameter(max_length=300)] = "",
    ) -> Response[str]:
        """Dead deliveries first (unless a state is chosen), then the rest, newest first."""
        state = delivery_state
        chosen = _state(state)
        dead: list[DeliveryRow] = []
        if chosen is None and not cursor:
            dead = await store.list_deliveries("dead", sink or None, None, PAGE_SIZE)
        rows = await store.list_deliveries(chosen, sink or None, cursor or None, PAGE_SIZE + 1)
        more = len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE]
        # the cursor is the last row read, shown or not: a page of dead ones still pages on
        next_cursor = rows[-1].id if more else None
        rows = [row for row in rows if chosen is not None or row.state != "dead"]
        query = {"sink": sink, "state": state}
        return page(
            "deliveries.html",
            viewer=viewer,
            title="Deliveries",
            dead=dead,
            rows=rows,
            attempts=await _attempts(store, dead + rows),
            sinks=sorted(sinks_by_name),
            states=STATES,
            sink=sink,
            state=state,
            cursor=cursor,
            query=urlencode({k: v for k, v in query.items() if v}),
            next_cursor=next_cursor,
            done=done,
            now=clock(),
        )

    @post("/deliveries/{delivery_id:str}/retry")
    async def retry(
        self,
        delivery_id: FromPath[str],
        request: Request[Any, Any, Any],
        store: NamedDependency[Store],
        sinks_by_name: NamedDependency[Sinks],
        clock: NamedDependency[Clock],
        viewer: NamedDependency[Viewer],
    ) -> Redirect:
        """Make one dead (or waiting) delivery due now, keeping its webhook id."""
        await require_admin(request, viewer, "retry")
        delivery_id = await resolve_delivery_id(store, delivery_id[:64])
        row = await retry_delivery(store, sinks_by_name, clock, delivery_id)
        log.info("dashboard retry", token=viewer.name, delivery_id=row.id, sink=row.sink)
        done = f"Delivery {row.id} to {row.sink} is due again."
        return Redirect(f"/ui/deliveries?{urlencode({'done': done})}", status_code=303)

    @post("/sinks/{sink:str}/retry")
    async def retry_sink(
        self,
        sink: FromPath[str],
        request: Request[Any, Any, Any],
        store: NamedDependency[Store],
        sinks_by_name: NamedDependency[Sinks],
        clock: NamedDependency[Clock],
        viewer: NamedDependency[Viewer],
    ) -> Redirect:
        """Put every dead delivery of one sink back in the outbox, due now."""
        await require_admin(request, viewer, "retry of a sink's dead deliveries")
        counts = await retry_dead(store, sinks_by_name, clock, sink[:200])
        log.info("dashboard retry dead", token=viewer.name, sink=sink, retried=counts[sink])
        done = f"{counts[sink]} dead deliveries to {sink} are due again."
        target = "/ui/sinks" if (await request.form()).get("back") == "sinks" else "/ui/deliveries"
        return Redirect(f"{target}?{urlencode({'done': done})}", status_code=303)
