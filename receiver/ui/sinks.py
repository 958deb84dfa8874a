"""`/ui/sinks`: every sink with its health (active, or paused automatically and probed, or
paused by hand and by whom), its backlog (pending, dead), deliveries so far, last success, last
failure and its error. Admin tokens get "Pause", "Resume" and "Retry all dead" (POSTed to
`/ui/sinks/{sink}/retry`, in deliveries.py), CSRF-checked and logged with the token's name.
The figures are GET /admin/sinks' (`sink_views`), pausing and resuming `sink_control`'s, as the
admin API's.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

import structlog
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect

from vidhook.receiver.admin.sinks import sink_views
from vidhook.receiver.handler_parts import Clock, Sinks
from vidhook.receiver.sink_control import pause_sink, resume_sink
from vidhook.receiver.store import Store
from vidhook.receiver.ui.deliveries import require_admin
from vidhook.receiver.ui.sessions import Viewer
from vidhook.receiver.ui.templating import page
from vidhook.routes.worker import OutboxWorker

__all__ = ["SinksController"]

log = structlog.get_logger("vidhook")


def _changed(outbox: OutboxWorker, done: str) -> Redirect:
    # This instance's worker sees the change at once; others on the database within a second.
    outbox.health.forget()
    outbox.wake()
    return Redirect(f"/ui/sinks?{urlencode({'done': done})}", status_code=303)


class SinksController(Controller):
    """The sinks page."""

    path = "/sinks"
    include_in_schema = False

    @get("/")
    async def sinks(
        self,
        store: NamedDependency[Store],
        sinks_by_name: NamedDependency[Sinks],
        clock: NamedDependency[Clock],
        viewer: NamedDependency[Viewer],
        done: Annotated[str, QueryParameter(max_length=300)] = "",
    ) -> Response[str]:
        """Each sink's health and backlog."""
        types = {name: sink.config.type for name, sink in sinks_by_name.items()}
        return page(
            "sinks.html",
            viewer=viewer,
            title="Sinks",
            sinks=await sink_views(store, types),
            done=done,
            now=clock(),
        )

    @post("/{sink:str}/pause")
    async def pause(
        self,
        sink: FromPath[str],
        request: Request[Any, Any, Any],
        store: NamedDependency[Store],
        sinks_by_name: NamedDependency[Sinks],
        clock: NamedDependency[Clock],
        outbox: NamedDependency[OutboxWorker],
        viewer: NamedDependency[Viewer],
    ) -> Redirect:
        """Pause the sink by hand: its deliveries wait, and no probe goes out until resumed."""
        await require_admin(request, viewer, "pause")
        actor = f"token:{viewer.name}"
        await pause_sink(store, sinks_by_name, clock, sink[:200], actor)
        log.info("dashboard pause", token=viewer.name, sink=sink)
        return _changed(outbox, f"{sink} is paused; its deliveries wait until it is resumed.")

    @post("/{sink:str}/resume")
    async def resume(
        self,
        sink: FromPath[str],
        request: Request[Any, Any, Any],
        store: NamedDependency[Store],
        sinks_by_name: NamedDependency[Sinks],
        clock: NamedDependency[Clock],
        outbox: NamedDependency[OutboxWorker],
        viewer: NamedDependency[Viewer],
    ) -> Redirect:
        """Resume the sink, however it was paused; its waiting deliveries go out at once."""
        await require_admin(request, viewer, "resume")
        actor = f"token:{viewer.name}"
        await resume_sink(store, sinks_by_name, clock, sink[:200], actor)
        log.info("dashboard resume", token=viewer.name, sink=sink)
        return _changed(outbox, f"{sink} is resumed; its waiting deliveries go out now.")
