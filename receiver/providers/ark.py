"""Volcengine Ark, upstream of the resellers: it POSTs its task query answer on every change."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import msgspec

from vidhook.receiver.event import Status, TaskReport, is_terminal
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
    read_time,
    require_task_id,
    video_urls,
)
from vidhook.receiver.providers.samples import FAILURE, FakeApi, FakeTask, Json, Outcome, fresh_tail
from vidhook.receiver.providers.source_config import SourceConfigBase
from vidhook.receiver.providers.usage_facts import (
    Loose,
    read_audio,
    read_resolution,
    read_seconds,
)

__all__ = [
    "PROVIDER",
    "ArkContent",
    "ArkCreated",
    "ArkSource",
    "ArkTask",
    "query_request",
    "read_created",
    "read_task",
    "simulated_callback",
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


class ArkSource(SourceConfigBase, tag=NAME):
    """An Ark source: the options every source takes, none of its own."""


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
    resolution: Loose = None
    duration: Loose = None
    generate_audio: Loose = None


class ArkCreated(msgspec.Struct):
    """Ark's answer to a create-task request."""

    id: str


def read_task(body: bytes, source: ArkSource) -> TaskReport:
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
        duration_s=read_seconds(task.duration),
        resolution=read_resolution(task.resolution),
        audio=read_audio(task.generate_audio),
    )


def read_created(body: bytes) -> CreatedTask:
    """Read Ark's answer to a create-task request."""
    created = decode_payload(body, ArkCreated, NAME)
    return CreatedTask(task_id=require_task_id(created.id, NAME, "id"))


def query_request(base_url: str, task_id: str) -> ProviderRequest:
    """The request that reads one task from Ark."""
    path = f"{TASKS_PATH}/{path_segment(task_id)}"
    return ProviderRequest("GET", api_url(base_url, path, provider=NAME))


def simulated_callback(outcome: Outcome, source: ArkSource, now: float) -> Json:
    """Ark's status-change callback, identical to its task query answer."""
    stamp = datetime.fromtimestamp(now, UTC).strftime("%Y%m%d%H%M%S")
    body: Json = {
        "id": f"cgt-{stamp}-{fresh_tail(5)}",
        "model": "doubao-seedance-1-0-pro-250528",
        "status": "succeeded" if outcome == "completed" else "failed",
        "created_at": int(now) - 54,
        "updated_at": int(now),
    }
    if outcome == "failed":
        message = "The request failed because the output video may contain sensitive information."
        return body | {"error": {"code": "OutputVideoSensitiveContentDetected", "message": message}}
    host = "https://ark-content-generation-cn-beijing.tos-cn-beijing.volces.com"
    video = f"{host}/doubao-seedance-1-0-pro/{fresh_tail(8)}.mp4?X-Tos-Expires=86400"
    return body | {
        "content": {"video_url": video},
        "seed": 10, "resolution": "720p", "duration": 5, "ratio": "16:9", "framespersecond": 24,
        "usage": {"completion_tokens": 108900, "total_tokens": 108900},
    }  # fmt: skip


def _fake_task(task: FakeTask, word: str) -> Json:
    body: Json = {
        "id": task.id, "model": task.model, "status": word, "resolution": "720p",
        "duration": 5, "created_at": int(task.created), "updated_at": int(time.time()),
    }  # fmt: skip
    if word == "succeeded":
        body["content"] = {"video_url": task.video_url}
    if word == "failed":
        body["error"] = {"code": "OutputVideoSensitiveContentDetected", "message": FAILURE}
    return body


# Ark's word for each of vidhook's statuses, as its fake answers.
FAKE_WORDS = {"pending": "queued", "processing": "running", "completed": "succeeded",
              "failed": "failed"}  # fmt: skip

PROVIDER = Provider(
    name=NAME,
    config=ArkSource,
    callbacks=Callbacks(read=read_task, simulate=simulated_callback),
    task_api=TaskApi(
        default_base_url="https://ark.cn-beijing.volces.com",
        submit_path=TASKS_PATH,
        query_request=query_request,
        read_query=read_task,
        read_created=read_created,
        fake=FakeApi(
            create_path=TASKS_PATH,
            query_prefix=f"{TASKS_PATH}/",
            words=FAKE_WORDS,
            created=lambda task: {"id": task.id},
            query=_fake_task,
            callback=_fake_task,
        ),
    ),
)
