"""vibegen: callbacks on completion or failure, and a task query wrapped in `{success, data}`."""

from __future__ import annotations

import time
import uuid

import msgspec

from vidhook.receiver.event import Status, TaskReport
from vidhook.receiver.providers.base import (
    Callbacks,
    CreatedTask,
    Provider,
    ProviderRequest,
    TaskApi,
    decode_payload,
)
from vidhook.receiver.providers.reading import (
    Clock,
    ErrorBody,
    api_url,
    error_info,
    map_status,
    path_segment,
    provider_refused,
    read_time,
    require_task_id,
    video_urls,
)
from vidhook.receiver.providers.samples import (
    FAILURE,
    SAME_WORDS,
    FakeApi,
    FakeTask,
    Json,
    Outcome,
    fresh_tail,
    iso_time,
)
from vidhook.receiver.providers.source_config import SourceConfigBase

__all__ = [
    "PROVIDER",
    "VibegenCallback",
    "VibegenResponse",
    "VibegenSource",
    "VibegenTask",
    "query_request",
    "read_callback",
    "read_created",
    "read_query",
    "simulated_callback",
]

NAME = "vibegen"

STATUSES: dict[str, Status] = {
    "pending": "pending",
    "processing": "processing",
    "completed": "completed",
    "failed": "failed",
}


class VibegenSource(SourceConfigBase, tag=NAME):
    """A vibegen source: the options every source takes, none of its own."""


class VibegenCallback(msgspec.Struct):
    """The body vibegen POSTs to `callback_url` when a task completes or fails."""

    task_id: str
    status: str
    event: str | None = None
    video_url: str | None = None
    error_message: str | None = None
    created_at: Clock = None
    completed_at: Clock = None
    failed_at: Clock = None


class VibegenTask(msgspec.Struct):
    """One task as vibegen's query and create answers describe it."""

    id: str
    status: str
    model: str | None = None
    task_type: str | None = None
    video_url: str | None = None
    error: str | None = None
    created_at: Clock = None
    completed_at: Clock = None


class VibegenResponse(msgspec.Struct):
    """vibegen's answer envelope: `data` on success, `error` otherwise."""

    success: bool = False
    data: VibegenTask | None = None
    error: str | ErrorBody | None = None


def read_callback(body: bytes, source: VibegenSource) -> TaskReport:
    """Read the callback vibegen POSTs when a task completes or fails."""
    callback = decode_payload(body, VibegenCallback, NAME)
    status = map_status(callback.status, STATUSES, NAME)
    return TaskReport(
        task_id=require_task_id(callback.task_id, NAME),
        status=status,
        provider_status=callback.status,
        video_urls=video_urls(status, [callback.video_url]),
        error=error_info(callback.error_message),
        created_at=read_time(callback.created_at),
        finished_at=read_time(callback.completed_at) or read_time(callback.failed_at),
    )


def read_query(body: bytes, source: VibegenSource) -> TaskReport:
    """Read vibegen's answer to `GET /tasks/{id}`."""
    task = _read_task(body)
    status = map_status(task.status, STATUSES, NAME, "data.status")
    return TaskReport(
        task_id=require_task_id(task.id, NAME, "data.id"),
        status=status,
        provider_status=task.status,
        model=task.model,
        video_urls=video_urls(status, [task.video_url]),
        error=error_info(task.error),
        created_at=read_time(task.created_at),
        finished_at=read_time(task.completed_at),
    )


def read_created(body: bytes) -> CreatedTask:
    """Read vibegen's answer to a create-task request."""
    task = _read_task(body)
    return CreatedTask(
        task_id=require_task_id(task.id, NAME, "data.id"), provider_status=task.status
    )


def query_request(base_url: str, task_id: str) -> ProviderRequest:
    """The request that reads one task from vibegen."""
    return ProviderRequest(
        "GET", api_url(base_url, f"/tasks/{path_segment(task_id)}", provider=NAME)
    )


def _read_task(body: bytes) -> VibegenTask:
    answer = decode_payload(body, VibegenResponse, NAME)
    if answer.data is None:
        if isinstance(answer.error, ErrorBody):
            raise provider_refused(NAME, answer.error.message, answer.error.code)
        raise provider_refused(NAME, answer.error)
    return answer.data


def simulated_callback(outcome: Outcome, source: VibegenSource, now: float) -> Json:
    """vibegen's `task.completed` / `task.failed` callback."""
    body: Json = {
        "event": f"task.{outcome}",
        "task_id": str(uuid.uuid4()),
        "status": outcome,
        "created_at": iso_time(now - 150),
    }
    if outcome == "completed":
        body |= {"video_url": f"https://cdn.example.com/videos/{fresh_tail(6)}.mp4"}
        return body | {"completed_at": iso_time(now)}
    return body | {"error_message": "Content policy violation", "failed_at": iso_time(now)}


def _fake_created(task: FakeTask) -> Json:
    return {"success": True, "data": {
        "id": task.id, "status": "pending", "model": task.model, "task_type": "text_to_video",
        "created_at": task.iso(),
    }}  # fmt: skip


def _fake_error(status: int, message: str) -> Json:
    return {"success": False, "error": {"code": f"HTTP_{status}", "message": message}}


def _fake_query(task: FakeTask, status: str) -> Json:
    done = status in ("completed", "failed")
    return {"success": True, "data": {
        "id": task.id, "status": status, "model": task.model, "task_type": "text_to_video",
        "prompt": "a city at sunset", "created_at": task.iso(),
        "video_url": task.video_url if status == "completed" else None,
        "completed_at": task.iso(time.time()) if done else None,
        "error": FAILURE if status == "failed" else None,
    }}  # fmt: skip


def _fake_callback(task: FakeTask, status: str) -> Json:
    if status == "completed":
        return {"event": "task.completed", "task_id": task.id, "status": status,
                "video_url": task.video_url, "created_at": task.iso(),
                "completed_at": task.iso(time.time())}  # fmt: skip
    return {"event": "task.failed", "task_id": task.id, "status": status,
            "error_message": FAILURE, "created_at": task.iso(),
            "failed_at": task.iso(time.time())}  # fmt: skip


PROVIDER = Provider(
    name=NAME,
    config=VibegenSource,
    callbacks=Callbacks(read=read_callback, simulate=simulated_callback),
    task_api=TaskApi(
        default_base_url="https://vibegen.art/api/v1",
        submit_path="/generations",
        query_request=query_request,
        read_query=read_query,
        read_created=read_created,
        fake=FakeApi(
            create_path="/generations",
            query_prefix="/tasks/",
            words=SAME_WORDS,
            created=_fake_created,
            query=_fake_query,
            callback=_fake_callback,
            error=_fake_error,
        ),
        queries_per_minute=1000,  # vibegen's published limit per API key
    ),
)
