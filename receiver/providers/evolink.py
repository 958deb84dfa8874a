"""evolink: its callback body is the task query answer; results arrive as `results[]`."""

from __future__ import annotations

import msgspec

from vidhook.receiver.config import SourceConfig
from vidhook.receiver.event import Credits, Status, TaskReport
from vidhook.receiver.providers.base import CreatedTask, Provider, ProviderRequest, decode_payload
from vidhook.receiver.providers.reading import (
    Clock,
    ErrorBody,
    api_url,
    error_info,
    map_status,
    path_segment,
    progress_percent,
    read_time,
    require_task_id,
    video_urls,
)

__all__ = ["PROVIDER", "EvolinkTask", "EvolinkUsage", "query_request", "read_created", "read_task"]

NAME = "evolink"

STATUSES: dict[str, Status] = {
    "pending": "pending",
    "processing": "processing",
    "completed": "completed",
    "failed": "failed",
    "cancelled": "cancelled",
}

# evolink reports a cancelled task as `failed` with this error code.
CANCELLED_CODE = "request_cancelled"


class EvolinkUsage(msgspec.Struct):
    """What a task costs."""

    credits_reserved: float | None = None


class EvolinkTask(msgspec.Struct):
    """One task as evolink's query, create answer and callback describe it."""

    id: str
    status: str
    model: str | None = None
    progress: float | None = None
    results: list[str] = []
    error: ErrorBody | None = None
    usage: EvolinkUsage | None = None
    created: Clock = None


def read_task(body: bytes, source: SourceConfig) -> TaskReport:
    """Read an evolink task: the callback body and the query answer are the same."""
    task = decode_payload(body, EvolinkTask, NAME)
    status = map_status(task.status, STATUSES, NAME)
    if status == "failed" and task.error is not None and task.error.code == CANCELLED_CODE:
        status = "cancelled"
    reserved = task.usage.credits_reserved if task.usage else None
    return TaskReport(
        task_id=require_task_id(task.id, NAME, "id"),
        status=status,
        provider_status=task.status,
        model=task.model,
        video_urls=video_urls(status, task.results),
        error=error_info(task.error),
        progress=progress_percent(task.progress),
        credits=Credits(reserved=reserved) if reserved is not None else None,
        created_at=read_time(task.created),
    )


def read_created(body: bytes) -> CreatedTask:
    """Read evolink's answer to a create-task request."""
    task = decode_payload(body, EvolinkTask, NAME)
    return CreatedTask(task_id=require_task_id(task.id, NAME, "id"), provider_status=task.status)


def query_request(base_url: str, task_id: str) -> ProviderRequest:
    """The request that reads one task from evolink."""
    path = f"/v1/tasks/{path_segment(task_id)}"
    return ProviderRequest("GET", api_url(base_url, path, provider=NAME))


PROVIDER = Provider(
    name=NAME,
    default_base_url="https://api.evolink.ai",
    read_query=read_task,
    query_request=query_request,
    submit_path="/v1/videos/generations",
    read_created=read_created,
    read_callback=read_task,
    callback_requires_https=True,
)
