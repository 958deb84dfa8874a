"""`/admin/sinks`: each sink's backlog and latest outcomes, and bulk retry of its dead."""

from __future__ import annotations

from collections.abc import Mapping

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from vidhook.receiver.admin.schemas import RetriedDead, SinkList, SinkView
from vidhook.receiver.handler_parts import Clock, Sinks
from vidhook.receiver.http_errors import errors
from vidhook.receiver.retry import retry_dead
from vidhook.receiver.store import Store

__all__ = ["SinksController", "sink_views"]


async def sink_views(store: Store, sink_types: Mapping[str, str | None]) -> list[SinkView]:
    """Every configured sink (name -> type), and every sink still on record, with its stats."""
    stats = {row.sink: row for row in await store.sink_stats()}
    views = []
    for name in sorted(set(sink_types) | set(stats)):
        row = stats.get(name)
        views.append(
            SinkView(
                name=name,
                type=sink_types.get(name),
                configured=name in sink_types,
                pending=row.pending if row else 0,
                dead=row.dead if row else 0,
                delivered=row.delivered if row else 0,
                last_success=row.last_success if row else None,
                last_failure=row.last_failure if row else None,
                last_error=row.last_error if row else None,
            )
        )
    return views


class SinksController(Controller):
    """Sinks, configured or still on record, and retrying a sink's dead deliveries."""

    path = "/sinks"
    tags = ["admin: sinks"]

    @get("/", opt={"scope": "read"}, summary="List sinks", responses=errors())
    async def list_sinks(
        self, store: NamedDependency[Store], sinks_by_name: NamedDependency[Sinks]
    ) -> SinkList:
        """Pending, dead and delivered counts, last success, last failure and its error.
        Scope: read."""
        types = {name: sink.config.type for name, sink in sinks_by_name.items()}
        return SinkList(items=await sink_views(store, types))

    @post(
        "/{sink:str}/retry",
        opt={"scope": "admin"},
        status_code=200,
        summary="Retry a sink's dead deliveries",
        responses=errors(404),
    )
    async def retry_dead(
        self,
        sink: FromPath[str],
        store: NamedDependency[Store],
        sinks_by_name: NamedDependency[Sinks],
        clock: NamedDependency[Clock],
    ) -> RetriedDead:
        """Put every dead delivery of the sink back in the outbox, due now. Scope: admin."""
        counts = await retry_dead(store, sinks_by_name, clock, sink)
        return RetriedDead(sink=sink, retried=counts[sink])
