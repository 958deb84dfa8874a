"""`/ui/sinks`: every sink with its backlog (pending, dead), deliveries so far, last success,
last failure and its error; "Retry all dead" per sink for admin tokens (POSTed to
`/ui/sinks/{sink}/retry`, in deliveries.py). The figures are GET /admin/sinks' (`sink_views`).
"""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from vidhook.receiver.admin.sinks import sink_views
from vidhook.receiver.services import Services
from vidhook.receiver.ui.sessions import Viewer
from vidhook.receiver.ui.templating import page

__all__ = ["SinksController"]


class SinksController(Controller):
    """The sinks page."""

    path = "/sinks"
    include_in_schema = False

    @get("/")
    async def sinks(
        self,
        services: NamedDependency[Services],
        viewer: NamedDependency[Viewer],
        done: Annotated[str, QueryParameter(max_length=300)] = "",
    ) -> Response[str]:
        """Each sink's health and backlog."""
        types = {name: sink.config.type for name, sink in services.sinks.items()}
        return page(
            "sinks.html",
            viewer=viewer,
            title="Sinks",
            sinks=await sink_views(services.store, types),
            done=done,
            now=services.clock(),
        )
