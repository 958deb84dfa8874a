"""`/ui/usage`: tasks, completed, failed, credits and estimated cost per group over a time
range, grouped by any event field or label (`labels.end_user_id,model`). The figures are
GET /admin/usage's (`usage_report`, the store's own aggregation); a group key or time that
does not read is answered 400 with the message, never a 500.
"""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from vidhook.receiver.config import Settings
from vidhook.receiver.errors import BadRequest
from vidhook.receiver.handler_parts import Clock
from vidhook.receiver.store import Store
from vidhook.receiver.ui.sessions import Viewer
from vidhook.receiver.ui.templating import page
from vidhook.receiver.usage import DEFAULT_SINCE, parse_group_by, usage_range, usage_report

__all__ = ["UsageController"]

Moment = Annotated[str, QueryParameter(max_length=64)]


class UsageController(Controller):
    """The usage page."""

    path = "/usage"
    include_in_schema = False

    @get("/")
    async def usage(
        self,
        store: NamedDependency[Store],
        settings: NamedDependency[Settings],
        clock: NamedDependency[Clock],
        viewer: NamedDependency[Viewer],
        group_by: Annotated[str, QueryParameter(max_length=300)] = "source",
        since: Moment = DEFAULT_SINCE,
        until: Moment = "",
    ) -> Response[str]:
        """Usage per group of the events received in [since, until)."""
        form = {"group_by": group_by, "since": since, "until": until}
        try:
            start, end = usage_range(since.strip() or None, until.strip() or None, clock())
            report = await usage_report(
                store,
                settings.pricing,
                since=start,
                until=end,
                group_by=parse_group_by(group_by),
            )
        except BadRequest as exc:
            return page("usage.html", 400, viewer=viewer, title="Usage", form=form,
                        report=None, error=exc.message, now=clock())  # fmt: skip
        return page("usage.html", viewer=viewer, title="Usage", form=form, report=report,
                    error="", now=clock())  # fmt: skip
