"""seedanceapi: no callbacks; a task is read by POSTing its id, answers come as `{code, data}`."""

from __future__ import annotations

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
    UrlItem,
    api_url,
    checked_task_id,
    error_info,
    map_status,
    provider_refused,
    require_task_id,
    video_urls,
)
from vidhook.receiver.providers.samples import FAILURE, SAME_WORDS, FakeApi, FakeTask, Json
from vidhook.receiver.providers.source_config import SourceConfigBase

__all__ = [
    "PROVIDER",
    "SeedanceResponse",
    "SeedanceTask",
    "SeedanceapiSource",
    "query_request",
    "read_created",
    "read_query",
]

NAME = "seedanceapi"

STATUSES: dict[str, Status] = {
    "pending": "pending",
    "processing": "processing",
    "success": "completed",
    "failed": "failed",
}


class SeedanceapiSource(SourceConfigBase, tag=NAME):
    """A seedanceapi source: the options every source takes, none of its own."""


class SeedanceTask(msgspec.Struct):
    """One task as seedanceapi's query and create answers describe it."""

    task_id: str
    status: str
    model: str | None = None
    scene: str | None = None
    videos: list[UrlItem] = []
    error: str | None = None


class SeedanceResponse(msgspec.Struct):
    """seedanceapi's answer envelope: `code` 0 with `data`, or an error code and message."""

    code: int
    message: str | None = None
    data: SeedanceTask | None = None


def read_query(body: bytes, source: SeedanceapiSource) -> TaskReport:
    """Read seedanceapi's answer to `POST /v1/video/query`."""
    task = _read_task(body)
    status = map_status(task.status, STATUSES, NAME, "data.status")
    return TaskReport(
        task_id=require_task_id(task.task_id, NAME, "data.task_id"),
        status=status,
        provider_status=task.status,
        model=task.model,
        video_urls=video_urls(status, [video.url for video in task.videos]),
        error=error_info(task.error),
    )


def read_created(body: bytes) -> CreatedTask:
    """Read seedanceapi's answer to a create-task request."""
    task = _read_task(body)
    return CreatedTask(
        task_id=require_task_id(task.task_id, NAME, "data.task_id"), provider_status=task.status
    )


def query_request(base_url: str, task_id: str) -> ProviderRequest:
    """The request that reads one task from seedanceapi: its id goes in the JSON body."""
    url = api_url(base_url, "/v1/video/query", provider=NAME)
    return ProviderRequest("POST", url, json={"task_id": checked_task_id(task_id)})


def _read_task(body: bytes) -> SeedanceTask:
    answer = decode_payload(body, SeedanceResponse, NAME)
    if answer.code != 0:
        raise provider_refused(NAME, answer.message, answer.code)
    if answer.data is None:
        raise UnreadablePayload(f"{NAME} payload: no `data` in an answer with code 0")
    return answer.data


def _fake_answer(task: FakeTask, word: str) -> Json:
    return {"code": 0, "message": "ok", "data": {
        "task_id": task.id, "status": word, "model": task.model, "scene": "text-to-video",
        "videos": [{"url": task.video_url}] if word == "success" else [],
        "error": FAILURE if word == "failed" else None,
    }}  # fmt: skip


PROVIDER = Provider(
    name=NAME,
    config=SeedanceapiSource,
    task_api=TaskApi(
        default_base_url="https://api.seedanceapi.dev",
        submit_path="/v1/video/generate",
        query_request=query_request,
        read_query=read_query,
        read_created=read_created,
        fake=FakeApi(
            create_path="/v1/video/generate",
            query_prefix=None,
            query_post_path="/v1/video/query",
            words={**SAME_WORDS, "completed": "success"},
            created=lambda task: _fake_answer(task, "pending"),
            query=_fake_answer,
            error=lambda status, message: {"code": status, "message": message},
        ),
    ),
)
