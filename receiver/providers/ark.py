"""Volcengine Ark, upstream of the resellers: it POSTs its task query answer on every change."""

from __future__ import annotations

import msgspec

from vidhook.receiver.config import SourceConfig
from vidhook.receiver.event import Status, TaskReport, is_terminal
from vidhook.receiver.providers.base import CreatedTask, Provider, ProviderRequest, decode_payload
from vidhook.receiver.providers.reading import (
    Clock,
    ErrorBody,
    api_url,
    error_info,
    map_status,
    path_segment,
    read_time,
    require_task_id,
    video_urls,
)

__all__ = [
    "PROVIDER",
    "ArkContent",
    "ArkCreated",
    "ArkTask",
    "query_request",
    "read_created",
    "read_task",
]

NAME = "ark"

STATUSES: dict[str, Status] = {
    "queued": "pending",
    "running": "processing",
    "succeeded": "completed",
    "failed": "failed",
    "cancelled": "cancelled",
    "expired": "expired",
}

TASKS_PATH = "/api/v3/contents/generations/tasks"


class ArkContent(msgspec.Struct):
    """What a finished task produced."""

    video_url: str | None = None


class ArkTask(msgspec.Struct):
    """One task as Ark's query answer and callback describe it."""

    id: str
    status: str
    model: str | None = None
    content: ArkContent | None = None
    error: ErrorBody | None = None
    created_at: Clock = None
    updated_at: Clock = None


class ArkCreated(msgspec.Struct):
    """Ark's answer to a create-task request."""

    id: str


def read_task(body: bytes, source: SourceConfig) -> TaskReport:
    """Read an Ark task: the callback body and the query answer are the same."""
    task = decode_payload(body, ArkTask, NAME)
    status = map_status(task.status, STATUSES, NAME)
    return TaskReport(
        task_id=require_task_id(task.id, NAME, "id"),
        status=status,
        provider_status=task.status,
        model=task.model,
        video_urls=video_urls(status, [task.content.video_url if task.content else None]),
        error=error_info(task.error),
        created_at=read_time(task.created_at),
        # Ark has no finish time of its own; its last update is when the task ended.
        finished_at=read_time(task.updated_at) if is_terminal(status) else None,
    )


def read_created(body: bytes) -> CreatedTask:
    """Read Ark's answer to a create-task request."""
    created = decode_payload(body, ArkCreated, NAME)
    return CreatedTask(task_id=require_task_id(created.id, NAME, "id"))


def query_request(base_url: str, task_id: str) -> ProviderRequest:
    """The request that reads one task from Ark."""
    path = f"{TASKS_PATH}/{path_segment(task_id)}"
    return ProviderRequest("GET", api_url(base_url, path, provider=NAME))


PROVIDER = Provider(
    name=NAME,
    default_base_url="https://ark.cn-beijing.volces.com",
    read_query=read_task,
    query_request=query_request,
    submit_path=TASKS_PATH,
    read_created=read_created,
    read_callback=read_task,
)
