"""evolink: its callback body is the task query answer; results arrive as `results[]`."""

from __future__ import annotations

import msgspec

from vidhook.receiver.event import Credits, Status, TaskReport
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
    progress_percent,
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
)
from vidhook.receiver.providers.source_config import SourceConfigBase
from vidhook.receiver.providers.usage_facts import Loose, read_seconds

__all__ = [
    "PROVIDER",
    "EvolinkSource",
    "EvolinkTask",
    "EvolinkUsage",
    "query_request",
    "read_created",
    "read_task",
    "simulated_callback",
]

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


class EvolinkSource(SourceConfigBase, tag=NAME):
    """An evolink source: the options every source takes, none of its own."""


class EvolinkUsage(msgspec.Struct):
    """What a task costs."""

    credits_reserved: float | None = None


class EvolinkTaskInfo(msgspec.Struct):
    """Details of a task, among them the generated video's length."""

    video_duration: Loose = None


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
    task_info: EvolinkTaskInfo | None = None


def read_task(body: bytes, source: EvolinkSource) -> TaskReport:
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
        duration_s=read_seconds(task.task_info.video_duration) if task.task_info else None,
    )


def read_created(body: bytes) -> CreatedTask:
    """Read evolink's answer to a create-task request."""
    task = decode_payload(body, EvolinkTask, NAME)
    return CreatedTask(task_id=require_task_id(task.id, NAME, "id"), provider_status=task.status)


def query_request(base_url: str, task_id: str) -> ProviderRequest:
    """The request that reads one task from evolink."""
    path = f"/v1/tasks/{path_segment(task_id)}"
    return ProviderRequest("GET", api_url(base_url, path, provider=NAME))


def simulated_callback(outcome: Outcome, source: EvolinkSource, now: float) -> Json:
    """evolink's callback, identical to its task query answer."""
    tail = fresh_tail(8)
    body: Json = {
        "created": int(now) - 120,
        "id": f"task-unified-{int(now) - 120}-{tail}",
        "model": "doubao-seedance-1.0-pro-fast",
        "object": "video.generation.task",
        "progress": 100 if outcome == "completed" else 0,
        "status": outcome,
        "type": "video",
        "task_info": {"can_cancel": False},
    }
    if outcome == "completed":
        return body | {
            "results": [f"https://cdn.example.com/videos/{tail}.mp4"],
            "task_info": {"can_cancel": False, "video_duration": 8},
            "usage": {"billing_rule": "per_call", "credits_reserved": 8, "user_group": "default"},
        }
    message = "Content policy violation.\nYour request was blocked by safety filters."
    return body | {"error": {"code": "content_policy_violation", "message": message}}


def _fake_task(task: FakeTask, status: str) -> Json:
    body: Json = {
        "created": int(task.created), "id": task.id, "model": task.model,
        "object": "video.generation.task", "status": status, "type": "video",
        "progress": 100 if status == "completed" else 0 if status == "pending" else 50,
        "task_info": {"can_cancel": status == "pending", "video_duration": 5},
        "usage": {"billing_rule": "per_call", "credits_reserved": 8, "user_group": "default"},
    }  # fmt: skip
    if status == "completed":
        body["results"] = [task.video_url]
    if status == "failed":
        body["error"] = {"code": "content_policy_violation", "message": FAILURE}
    return body


def _fake_error(status: int, message: str) -> Json:
    error = {"code": f"http_{status}", "message": message, "type": "invalid_request_error"}
    return {"error": error}


PROVIDER = Provider(
    name=NAME,
    config=EvolinkSource,
    callbacks=Callbacks(read=read_task, simulate=simulated_callback, requires_https=True),
    task_api=TaskApi(
        default_base_url="https://api.evolink.ai",
        submit_path="/v1/videos/generations",
        query_request=query_request,
        read_query=read_task,
        read_created=read_created,
        fake=FakeApi(
            create_path="/v1/videos/generations",
            query_prefix="/v1/tasks/",
            words=SAME_WORDS,
            created=lambda task: _fake_task(task, "pending"),
            query=_fake_task,
            callback=_fake_task,
            error=_fake_error,
        ),
    ),
)
