"""vibegen: callbacks on completion or failure, and a task query wrapped in `{success, data}`."""

from __future__ import annotations

import msgspec

from vidhook.receiver.config import SourceConfig
from vidhook.receiver.event import Status, TaskReport
from vidhook.receiver.providers.base import CreatedTask, Provider, ProviderRequest, decode_payload
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

__all__ = [
    "PROVIDER",
    "VibegenCallback",
    "VibegenResponse",
    "VibegenTask",
    "query_request",
    "read_callback",
    "read_created",
    "read_query",
]

NAME = "vibegen"

STATUSES: dict[str, Status] = {
    "pending": "pending",
    "processing": "processing",
    "completed": "completed",
    "failed": "failed",
}


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


def read_callback(body: bytes, source: SourceConfig) -> TaskReport:
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


def read_query(body: bytes, source: SourceConfig) -> TaskReport:
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


PROVIDER = Provider(
    name=NAME,
    default_base_url="https://vibegen.art/api/v1",
    read_query=read_query,
    query_request=query_request,
    submit_path="/generations",
    read_created=read_created,
    read_callback=read_callback,
)
