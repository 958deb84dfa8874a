"""`/admin/deliveries`: the outbox and its history, and retrying one delivery."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter

from vidhook.receiver.admin.schemas import DeliveryPage
from vidhook.receiver.handler_parts import Clock, Sinks
from vidhook.receiver.http_errors import errors
from vidhook.receiver.id_prefix import resolve_delivery_id
from vidhook.receiver.retry import retry_delivery
from vidhook.receiver.store import Store
from vidhook.receiver.store.records import DeliveryRow, DeliveryState

__all__ = ["DeliveriesController"]


class DeliveriesController(Controller):
    """Deliveries by state and sink, and retry of one."""

    path = "/deliveries"
    tags = ["admin: deliveries"]

    @get("/", opt={"scope": "read"}, summary="List deliveries", responses=errors())
    async def list_deliveries(
        self,
        store: NamedDependency[Store],
        delivery_state: Annotated[DeliveryState | None, QueryParameter(name="state")] = None,
        sink: Annotated[str | None, QueryParameter(max_length=200)] = None,
        cursor: Annotated[str | None, QueryParameter(max_length=64)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
    ) -> DeliveryPage:
        """Deliveries, newest first, a page at a time; `state=dead` lists what gave up.
        Scope: read."""
        rows = await store.list_deliveries(delivery_state, sink, cursor or None, limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        return DeliveryPage(items=rows, next_cursor=rows[-1].id if more else None)

    @post(
        "/{delivery_id:str}/retry",
        opt={"scope": "admin"},
        status_code=200,
        summary="Retry one delivery",
        responses=errors(404, 409),
    )
    async def retry(
        self,
        delivery_id: FromPath[str],
        store: NamedDependency[Store],
        sinks_by_name: NamedDependency[Sinks],
        clock: NamedDependency[Clock],
    ) -> DeliveryRow:
        """Make a dead (or waiting) delivery due now, keeping its webhook id; delivered, held
        and in-flight deliveries are refused. The id may be a unique prefix. Scope: admin."""
        delivery_id = await resolve_delivery_id(store, delivery_id)
        return await retry_delivery(store, sinks_by_name, clock, delivery_id)
