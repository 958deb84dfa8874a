"""aioagi: no callbacks, and no published answer shape, so its reader is tolerant.

The task may sit at the top level or inside a `data` envelope; its id may be `id` or
`task_id`; the video may be `video_url`, `url` or `videos` (strings or `{url}` objects); the
error may be `error_message` or `error` (a string or `{code, message}`).

A status word outside the table reads as `processing`, keeping the word in `provider_status`:
an unknown word is never taken for an ending, so the task stays polled until aioagi says
something known or the source's `poll_timeout` ends it.
"""

from __future__ import annotations

import time

import msgspec

from vidhook.receiver.errors import UnreadablePayload
from vidhook.receiver.event import Status, TaskReport
from vidhook.receiver.providers.base import (
    CreatedTask,
    Provider,
    ProviderRequest,
    TaskApi,
    decode_payload,
)
from vidhook.receiver.providers.reading import (
    Clock,
    ErrorBody,
    UrlItem,
    api_url,
    error_info,
    path_segment,
    poll_seconds,
    progress_percent,
    read_time,
    require_task_id,
    video_urls,
)
from vidhook.receiver.providers.samples import FAILURE, FakeApi, FakeTask, Json
from vidhook.receiver.providers.source_config import SourceConfigBase
from vidhook.receiver.providers.usage_facts import (
    Loose,
    read_audio,
    read_resolution,
    read_seconds,
)

__all__ = [
    "PROVIDER",
    "AioagiAnswer",
    "AioagiSource",
    "AioagiTask",
    "query_request",
    "read_created",
    "read_query",
]

NAME = "aioagi"

STATUSES: dict[str, Status] = {
    "queued": "pending",
    "pending": "pending",
    "submitted": "pending",
    "running": "processing",
    "processing": "processing",
    "in_progress": "processing",
    "succeeded": "completed",
    "success": "completed",
    "completed": "completed",
    "failed": "failed",
    "error": "failed",
    "cancelled": "cancelled",
    "canceled": "cancelled",
    "expired": "expired",
}


class AioagiSource(SourceConfigBase, tag=NAME):
    """An aioagi source: the options every source takes, none of its own."""


class AioagiTask(msgspec.Struct):
    """One task in any of the shapes aioagi may answer with."""

    id: str | int | None = None
    task_id: str | int | None = None
    status: str | None = None
    model: str | None = None
    progress: float | None = None
    video_url: str | None = None
    url: str | None = None
    videos: list[str | UrlItem] = []
    error_message: str | None = None
    error: str | ErrorBody | None = None
    created_at: Clock = None
    completed_at: Clock = None
    finished_at: Clock = None
    poll_interval_seconds: float | None = None
    resolution: Loose = None
    duration_seconds: Loose = None
    with_audio: Loose = None


class AioagiAnswer(AioagiTask):
    """aioagi's answer: a task, possibly wrapped in a `data` envelope."""

    data: AioagiTask | None = None


def read_query(body: bytes, source: AioagiSource) -> TaskReport:
    """Read aioagi's answer to `GET /videos/{id}`."""
    task = _read_task(body)
    if task.status is None:
        raise UnreadablePayload(f"{NAME} payload: no `status`")
    status = STATUSES.get(task.status.lower(), "processing")
    videos = [video if isinstance(video, str) else video.url for video in task.videos]
    return TaskReport(
        task_id=_task_id(task),
        status=status,
        provider_status=task.status,
        model=task.model,
        video_urls=video_urls(status, [task.video_url, task.url], videos),
        error=error_info(task.error_message) or error_info(task.error),
        progress=progress_percent(task.progress),
        created_at=read_time(task.created_at),
        finished_at=read_time(task.completed_at) or read_time(task.finished_at),
        poll_interval=poll_seconds(task.poll_interval_seconds),
        duration_s=read_seconds(task.duration_seconds),
        resolution=read_resolution(task.resolution),
        audio=read_audio(task.with_audio),
    )


def read_created(body: bytes) -> CreatedTask:
    """Read aioagi's answer to a create-task request."""
    task = _read_task(body)
    return CreatedTask(
        task_id=_task_id(task),
        provider_status=task.status,
        poll_interval=poll_seconds(task.poll_interval_seconds),
    )


def query_request(base_url: str, task_id: str) -> ProviderRequest:
    """The request that reads one task from aioagi."""
    return ProviderRequest(
        "GET", api_url(base_url, f"/videos/{path_segment(task_id)}", provider=NAME)
    )


def _read_task(body: bytes) -> AioagiTask:
    answer = decode_payload(body, AioagiAnswer, NAME)
    return answer.data if answer.data is not None else answer


def _task_id(task: AioagiTask) -> str:
    return require_task_id(task.id if task.id is not None else task.task_id, NAME, "id")


def _fake_query(task: FakeTask, word: str) -> Json:
    body: Json = {
        "id": task.id, "status": word, "model": task.model, "created_at": task.iso(),
        "progress": 100 if word == "succeeded" else 0 if word == "queued" else 50,
    }  # fmt: skip
    if word == "succeeded":
        body.update(video_url=task.video_url, completed_at=task.iso(time.time()))
        body["videos"] = [{"url": task.video_url}]
    if word == "failed":
        body.update(error_message=FAILURE, finished_at=task.iso(time.time()))
    return body


def _fake_created(task: FakeTask) -> Json:
    return {"id": task.id, "status": "queued", "model": task.model, "created_at": task.iso()}


# aioagi's word for each of vidhook's statuses, as its fake answers.
FAKE_WORDS = {"pending": "queued", "processing": "running", "completed": "succeeded",
              "failed": "failed"}  # fmt: skip

PROVIDER = Provider(
    name=NAME,
    config=AioagiSource,
    task_api=TaskApi(
        default_base_url="https://api.aiearth.dev/v1",
        submit_path="/videos",
        query_request=query_request,
        read_query=read_query,
        read_created=read_created,
        fake=FakeApi(
            create_path="/videos",
            query_prefix="/videos/",
            words=FAKE_WORDS,
            created=_fake_created,
            query=_fake_query,
        ),
    ),
)
