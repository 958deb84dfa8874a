"""`/ui/tasks`: tasks vidhook is waiting on, polling or confirming: their status, poll state,
next poll and deadline, by state (`open`, `overdue`, `polling`, `done`) and source. The list
is GET /v1/tasks' (`Store.list_tasks`).
"""

from __future__ import annotations

from typing import Annotated, get_args

from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from vidhook.receiver.errors import BadRequest
from vidhook.receiver.event import rfc3339_at
from vidhook.receiver.handler_parts import Clock, Sources
from vidhook.receiver.identifiers import MAX_NAME
from vidhook.receiver.store import Store
from vidhook.receiver.store.records import TaskState
from vidhook.receiver.ui.sessions import Viewer
from vidhook.receiver.ui.templating import page

__all__ = ["TasksController"]

SHOWN = 200
STATES: tuple[str, ...] = get_args(TaskState)


def moment(seconds: float | None) -> str | None:
    """A unix time as the RFC 3339 text the `when` filter shows (None stays None)."""
    return None if seconds is None else rfc3339_at(seconds)


class TasksController(Controller):
    """The tasks page."""

    path = "/tasks"
    include_in_schema = False

    @get("/")
    async def tasks(
        self,
        store: NamedDependency[Store],
        clock: NamedDependency[Clock],
        sources_by_name: NamedDependency[Sources],
        viewer: NamedDependency[Viewer],
        # `state` is a name Litestar keeps for itself: the parameter is renamed on the way in.
        task_state: Annotated[str, QueryParameter(name="state", max_length=16)] = "open",
        source: Annotated[str, QueryParameter(max_length=MAX_NAME)] = "",
    ) -> Response[str]:
        """Tasks in one state, most recently changed first."""
        state = task_state
        if state and state not in STATES:
            raise BadRequest(f"state: {state[:16]!r} is none of {', '.join(STATES)}")
        now = clock()
        found = await store.list_tasks(
            source or None,
            state or None,  # type: ignore[arg-type]
            SHOWN,
            now=now,
        )
        return page(
            "tasks.html",
            viewer=viewer,
            title="Tasks",
            tasks=found,
            state=state,
            source=source,
            states=STATES,
            sources=sorted(sources_by_name),
            moment=moment,
            now=now,
            shown=SHOWN,
        )
