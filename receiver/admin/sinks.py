"""`/admin/sinks`: each sink's backlog, latest outcomes and health, bulk retry of its dead,
and pausing and resuming it by hand."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from vidhook.receiver.admin.schemas import RetriedDead, SinkList, SinkView
from vidhook.receiver.api_auth import TokenTable
from vidhook.receiver.event import rfc3339_at
from vidhook.receiver.handler_parts import Clock, Sinks
from vidhook.receiver.http_errors import errors
from vidhook.receiver.retry import retry_dead
from vidhook.receiver.sink_control import pause_sink, resume_sink
from vidhook.receiver.store import Store
from vidhook.receiver.store.records import SinkHealth
from vidhook.routes.worker import OutboxWorker

__all__ = ["SinksController", "sink_views"]


async def sink_views(store: Store, sink_types: Mapping[str, str | None]) -> list[SinkView]:
    """Every configured sink (name -> type), and every sink still on record, with its stats."""
    stats = {row.sink: row for row in await store.sink_stats()}
    health = {row.sink: row for row in await store.sink_health()}
    views = []
    for name in sorted(set(sink_types) | set(stats)):
        row = stats.get(name)
        views.append(
            SinkView(
                **_health_fields(health.get(name)),
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


def _health_fields(row: SinkHealth | None) -> dict[str, Any]:
    if row is None:
        return {}
    return {
        "state": "paused" if row.paused else "active",
        "paused_since": None if row.paused_at is None else rfc3339_at(row.paused_at),
        "paused_by": row.paused_by,
        "paused_by_name": row.actor,
        "consecutive_failures": row.failures,
        "next_probe": None if row.next_probe_at is None else rfc3339_at(row.next_probe_at),
    }


def _actor(request: Request[Any, Any, Any]) -> str:
    """Who is calling: `token:NAME` of the API token the guard let through."""
    tokens: TokenTable = request.app.state.api_tokens
    return f"token:{tokens.authenticate(request.headers.get('authorization')).name}"


async def _view(store: Store, sinks: Sinks, outbox: OutboxWorker, sink: str) -> SinkView:
    # This instance's worker sees the change at once; others on the database within a second.
    outbox.health.forget()
    outbox.wake()
    types = {name: s.config.type for name, s in sinks.items()}
    [view] = [v for v in await sink_views(store, types) if v.name == sink]
    return view


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

    @post(
        "/{sink:str}/pause",
        opt={"scope": "admin"},
        status_code=200,
        summary="Pause a sink",
        responses=errors(404),
    )
    async def pause(
        self,
        sink: FromPath[str],
        request: Request[Any, Any, Any],
        store: NamedDependency[Store],
        sinks_by_name: NamedDependency[Sinks],
        clock: NamedDependency[Clock],
        outbox: NamedDependency[OutboxWorker],
    ) -> SinkView:
        """Pause the sink by hand: its deliveries wait, attempts unspent, and no probe goes
        out until it is resumed. Scope: admin."""
        await pause_sink(store, sinks_by_name, clock, sink, _actor(request))
        return await _view(store, sinks_by_name, outbox, sink)

    @post(
        "/{sink:str}/resume",
        opt={"scope": "admin"},
        status_code=200,
        summary="Resume a sink",
        responses=errors(404),
    )
    async def resume(
        self,
        sink: FromPath[str],
        request: Request[Any, Any, Any],
        store: NamedDependency[Store],
        sinks_by_name: NamedDependency[Sinks],
        clock: NamedDependency[Clock],
        outbox: NamedDependency[OutboxWorker],
    ) -> SinkView:
        """Resume the sink, paused by hand or automatically; its waiting deliveries go out
        at once. Scope: admin."""
        await resume_sink(store, sinks_by_name, clock, sink, _actor(request))
        return await _view(store, sinks_by_name, outbox, sink)
