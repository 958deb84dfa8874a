"""`/admin/usage`: tasks, outcomes, credits and estimated cost per group over a time range."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from vidhook.receiver.config import Settings
from vidhook.receiver.handler_parts import Clock
from vidhook.receiver.http_errors import errors
from vidhook.receiver.store import Store
from vidhook.receiver.usage import UsageReport, parse_group_by, usage_range, usage_report

__all__ = ["UsageController"]

Moment = Annotated[
    str | None,
    QueryParameter(
        max_length=64,
        description="RFC 3339, or an age before now such as 12h, 30d (since: default 30d;"
        " until: default now)",
    ),
]
GroupBy = Annotated[
    str | None,
    QueryParameter(
        max_length=300,
        description="comma-separated event fields (source, provider, type, status, model,"
        " task_id, resolution, duration_s, audio, error) or labels.KEY, at most 3",
    ),
]


class UsageController(Controller):
    """Usage and estimated cost, computed by the store."""

    path = "/usage"
    tags = ["admin: usage"]

    @get("/", opt={"scope": "read"}, summary="Usage per group", responses=errors())
    async def usage(
        self,
        store: NamedDependency[Store],
        settings: NamedDependency[Settings],
        clock: NamedDependency[Clock],
        since: Moment = None,
        until: Moment = None,
        group_by: GroupBy = None,
    ) -> UsageReport:
        """Per group of events received in [since, until): tasks first reported, completed,
        failed, credits the providers reported, and the estimated cost from `[pricing]`.
        Scope: read."""
        start, end = usage_range(since, until, clock())
        return await usage_report(
            store,
            settings.pricing,
            since=start,
            until=end,
            group_by=parse_group_by(group_by),
        )
