"""`POST /v1/submit/{source}` and `/admin/tasks`: submit through vidhook, watch, look up."""

from __future__ import annotations

from typing import Annotated, Any

import httpx
import msgspec
from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody, QueryParameter

from vidhook.receiver.api_auth import require_scope
from vidhook.receiver.config import Settings
from vidhook.receiver.errors import NotFound
from vidhook.receiver.handler_parts import Clock, Sources
from vidhook.receiver.http_errors import errors
from vidhook.receiver.identifiers import MAX_NAME, MAX_TASK_ID, check_value
from vidhook.receiver.sources import Source
from vidhook.receiver.store import Store
from vidhook.receiver.store.records import EventFilter, StoredEvent, TaskRecord, TaskState
from vidhook.receiver.tasks.provider_api import ProviderApi
from vidhook.receiver.tasks.submit import (
    SubmitRequest,
    Submitted,
    WatchRequest,
    submit_task,
    task_labels,
    watch_task,
)

__all__ = ["TASK_HANDLERS", "TaskDetail", "TaskList", "TasksController", "submit"]

_EVENTS_SHOWN = 100
_encoder = msgspec.json.Encoder()


class TaskList(msgspec.Struct, kw_only=True):
    """Tasks vidhook knows of, most recently changed first."""

    items: list[TaskRecord]


class TaskDetail(msgspec.Struct, kw_only=True):
    """One task and its stored events, newest first; a callback the provider contradicted
    carries the reason in its `note`."""

    task: TaskRecord
    events: list[StoredEvent]


class ProviderReplyView(msgspec.Struct, kw_only=True):
    """The provider's answer to the create request: its status and its JSON, unchanged."""

    status_code: int
    body: Any


class SubmittedView(msgspec.Struct, kw_only=True):
    """What a submit answers: vidhook's record of the task and the provider's reply."""

    task: TaskRecord
    provider: ProviderReplyView


# The handler sends the provider's JSON through as it came; the schema says what it holds.
_SUBMITTED = ResponseSpec(SubmittedView, description="The task was created and recorded")


def _source(sources: Sources, name: str) -> Source:
    source = sources.get(name)
    if source is None:
        known = ", ".join(sorted(sources)) or "none"
        raise NotFound(f"no source named {name[:64]!r}; configured: {known}", code="unknown_source")
    return source


@post(
    "/v1/submit/{source:str}",
    guards=[require_scope],
    opt={"scope": "submit"},
    status_code=201,
    summary="Create a task at the provider, with vidhook as its callback_url",
    description=(
        "`body` is the provider's own create body; `callback_url` is set to vidhook's URL for"
        " the source where the provider calls back. The task is recorded with `end_user_id`"
        " and `labels`, which every event of it carries. A provider error comes back with the"
        " provider's status (401, 402, 429, 5xx) and message."
    ),
    tags=["tasks"],
    responses={201: _SUBMITTED, **errors(402, 404, 409, 429, 502, 503, 504)},
)
async def submit(
    source: FromPath[str],
    data: JSONBody[SubmitRequest],
    sources_by_name: NamedDependency[Sources],
    settings: NamedDependency[Settings],
    store: NamedDependency[Store],
    http: NamedDependency[httpx.AsyncClient],
    clock: NamedDependency[Clock],
) -> Response[bytes]:
    """Submit one task through vidhook."""
    submitted: Submitted = await submit_task(
        _source(sources_by_name, source),
        data,
        settings=settings,
        store=store,
        api=ProviderApi(http),
        now=clock(),
    )
    return Response(_encoder.encode(submitted), media_type="application/json", status_code=201)


class TasksController(Controller):
    """Tasks vidhook submitted or watches: register one to poll, list them, show one."""

    path = "/admin/tasks"
    guards = [require_scope]
    tags = ["tasks"]

    @post(
        "/",
        opt={"scope": "admin"},
        status_code=201,
        summary="Watch a task",
        responses=errors(404, 409),
    )
    async def register(
        self,
        data: JSONBody[WatchRequest],
        sources_by_name: NamedDependency[Sources],
        store: NamedDependency[Store],
        clock: NamedDependency[Clock],
    ) -> TaskRecord:
        """Poll a task created elsewhere until it ends or the source's `poll_timeout`."""
        source = _source(sources_by_name, data.source)
        labels = task_labels(data.end_user_id, data.labels)
        return await watch_task(source, data.task_id, labels, store=store, now=clock())

    @get("/", opt={"scope": "read"}, summary="List tasks", responses=errors())
    async def list_tasks(
        self,
        store: NamedDependency[Store],
        clock: NamedDependency[Clock],
        source: Annotated[str | None, QueryParameter(max_length=MAX_NAME)] = None,
        # `state` is a name Litestar keeps for itself: the parameter is renamed on the way in.
        task_state: Annotated[TaskState | None, QueryParameter(name="state")] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
    ) -> TaskList:
        """Tasks, most recently changed first. `state`: `open` (no final status yet), `done`,
        `overdue` (open, and its provider's final callback is later than `callback_grace`)
        or `polling` (being polled now, by the safety net or because the provider never
        calls back)."""
        found = await store.list_tasks(source, task_state, limit, now=clock())
        return TaskList(items=found)

    @get(
        "/{source:str}/{task_id:str}",
        opt={"scope": "read"},
        summary="Show one task",
        responses=errors(404),
    )
    async def show(
        self, source: FromPath[str], task_id: FromPath[str], store: NamedDependency[Store]
    ) -> TaskDetail:
        """A task, its labels and poll state, and its events."""
        check_value("source", source, MAX_NAME)
        check_value("task_id", task_id, MAX_TASK_ID)
        task = await store.get_task(source, task_id)
        if task is None:
            raise NotFound(
                f"no task {task_id[:64]!r} of source {source[:64]!r}", code="unknown_task"
            )
        where = EventFilter(source=source, task_id=task_id)
        events = await store.list_events(where, _EVENTS_SHOWN)
        return TaskDetail(task=task, events=events)


TASK_HANDLERS = [submit, TasksController]
