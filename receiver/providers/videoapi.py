"""videoapi: no callbacks; tasks are polled at the interval the create answer asks for.

videoapi has no public address of its own (each deployment has one), so a videoapi source
must set `base_url`.
"""

from __future__ import annotations

import msgspec

from vidhook.receiver.event import Credits, Status, TaskReport
from vidhook.receiver.providers.base import (
    CreatedTask,
    Provider,
    ProviderRequest,
    TaskApi,
    decode_payload,
)
from vidhook.receiver.providers.reading import (
    ErrorBody,
    api_url,
    error_info,
    map_status,
    path_segment,
    poll_seconds,
    require_task_id,
    video_urls,
)
from vidhook.receiver.providers.samples import FAILURE, SAME_WORDS, FakeApi, FakeTask, Json
from vidhook.receiver.providers.source_config import SourceConfigBase

__all__ = [
    "PROVIDER",
    "VideoapiCreated",
    "VideoapiMetadata",
    "VideoapiSource",
    "VideoapiTask",
    "query_request",
    "read_created",
    "read_query",
]

NAME = "videoapi"

STATUSES: dict[str, Status] = {
    "pending": "pending",
    "processing": "processing",
    "completed": "completed",
    "failed": "failed",
}

GENERATIONS_PATH = "/v1/video/generations"


class VideoapiSource(SourceConfigBase, tag=NAME):
    """A videoapi source: the options every source takes; `base_url` is needed to poll."""


class VideoapiMetadata(msgspec.Struct):
    """Details of a task: the public model name and the credits held for it."""

    credits_reserved: float | None = None
    public_model: str | None = None


class VideoapiTask(msgspec.Struct):
    """One task as videoapi's query answer describes it."""

    task_id: str
    status: str
    url: str | None = None
    videos: list[str] = []
    generated: list[str] = []
    metadata: VideoapiMetadata | None = None
    credits_reserved: float | None = None
    credits_refunded: bool | None = None
    error: str | ErrorBody | None = None
    poll_interval_seconds: float | None = None


class VideoapiCreated(msgspec.Struct):
    """videoapi's answer to a create-task request."""

    task_id: str
    status: str | None = None
    poll_interval_seconds: float | None = None


def read_query(body: bytes, source: VideoapiSource) -> TaskReport:
    """Read videoapi's answer to `GET /v1/video/generations/{id}`."""
    task = decode_payload(body, VideoapiTask, NAME)
    status = map_status(task.status, STATUSES, NAME)
    metadata = task.metadata or VideoapiMetadata()
    reserved = task.credits_reserved
    if reserved is None:
        reserved = metadata.credits_reserved
    credits = None
    if reserved is not None or task.credits_refunded is not None:
        credits = Credits(reserved=reserved, refunded=task.credits_refunded)
    return TaskReport(
        task_id=require_task_id(task.task_id, NAME),
        status=status,
        provider_status=task.status,
        model=metadata.public_model,
        video_urls=video_urls(status, [task.url], task.videos, task.generated),
        error=error_info(task.error),
        credits=credits,
        poll_interval=poll_seconds(task.poll_interval_seconds),
    )


def read_created(body: bytes) -> CreatedTask:
    """Read videoapi's answer to a create-task request, with the poll interval it asks for."""
    created = decode_payload(body, VideoapiCreated, NAME)
    return CreatedTask(
        task_id=require_task_id(created.task_id, NAME),
        provider_status=created.status,
        poll_interval=poll_seconds(created.poll_interval_seconds),
    )


def query_request(base_url: str, task_id: str) -> ProviderRequest:
    """The request that reads one task from videoapi."""
    path = f"{GENERATIONS_PATH}/{path_segment(task_id)}"
    return ProviderRequest("GET", api_url(base_url, path, provider=NAME))


def _fake_query(task: FakeTask, status: str) -> Json:
    done = status == "completed"
    return {
        "task_id": task.id, "status": status, "format": "mp4",
        "url": task.video_url if done else None,
        "generated": [task.video_url] if done else [], "videos": [task.video_url] if done else [],
        "metadata": {"credits_reserved": 180, "public_model": task.model},
        "credits_reserved": 180, "credits_refunded": status == "failed",
        "error": {"message": FAILURE} if status == "failed" else None,
    }  # fmt: skip


def _fake_created(task: FakeTask) -> Json:
    return {"task_id": task.id, "status": "pending", "poll_interval_seconds": task.poll_interval}


PROVIDER = Provider(
    name=NAME,
    config=VideoapiSource,
    task_api=TaskApi(
        default_base_url=None,
        submit_path=GENERATIONS_PATH,
        query_request=query_request,
        read_query=read_query,
        read_created=read_created,
        fake=FakeApi(
            create_path=GENERATIONS_PATH,
            query_prefix=f"{GENERATIONS_PATH}/",
            words=SAME_WORDS,
            created=_fake_created,
            query=_fake_query,
        ),
    ),
)
