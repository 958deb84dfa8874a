"""`/admin/rejected`: the bounded log of refused callbacks, for debugging senders."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from vidhook.receiver.admin.schemas import RejectionPage, RejectionView
from vidhook.receiver.http_errors import errors
from vidhook.receiver.store import Store

__all__ = ["RejectedController"]


class RejectedController(Controller):
    """Refused requests, newest first."""

    path = "/rejected"
    tags = ["admin: rejected"]

    @get("/", opt={"scope": "read"}, summary="List refused requests", responses=errors())
    async def list_rejected(
        self,
        store: NamedDependency[Store],
        limit: Annotated[int, QueryParameter(ge=1, le=10_000)] = 100,
    ) -> RejectionPage:
        """Why each was refused, its source, client address, size and first 4 KiB.
        Scope: read."""
        rows = await store.list_rejected(limit)
        return RejectionPage(items=[RejectionView.of(row) for row in rows])
