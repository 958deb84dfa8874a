"""Each provider's answers in the shapes its documents show: create, query, callback, error.

A `FakeTask` knows its vidhook-normalised status; each provider's `Dialect` turns it into
that provider's own words and JSON.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

__all__ = ["DIALECTS", "Dialect", "FakeTask", "Json"]

Json = dict[str, Any]
Outcome = Literal["completed", "failed"]
FAILURE = "The request failed because the output video may contain sensitive information."


@dataclass
class FakeTask:
    """One task the fake provider runs: it ends with `outcome` at `finish_at` (monotonic)."""

    provider: str
    id: str
    model: str
    outcome: Outcome
    finish_at: float
    callback_url: str | None = None
    created: float = 0.0

    def __post_init__(self) -> None:
        self.created = self.created or time.time()

    def status(self) -> str:
        """vidhook's word for where the task is now."""
        return self.outcome if time.monotonic() >= self.finish_at else "processing"

    @property
    def video_url(self) -> str:
        """Where the finished video would be."""
        return f"https://cdn.example.com/{self.provider}/{self.id}.mp4"

    def iso(self, moment: float | None = None) -> str:
        """A time as the providers write it, RFC 3339 in UTC."""
        when = datetime.fromtimestamp(moment or self.created, UTC)
        return when.isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Dialect:
    """One provider's API as the fake speaks it."""

    create_path: str
    # GET {prefix}{id}; None when the task is read by POSTing its id to `query_post_path`.
    query_prefix: str | None
    words: dict[str, str]
    created: Callable[[FakeTask], Json]
    query: Callable[[FakeTask, str], Json]
    error: Callable[[int, str], Json]
    callback: Callable[[FakeTask, str], Json] | None = None
    query_post_path: str | None = None


def _error(status: int, message: str) -> Json:
    return {"error": {"code": f"http_{status}", "message": message}}


def _vibegen_created(task: FakeTask) -> Json:
    return {"success": True, "data": {
        "id": task.id, "status": "pending", "model": task.model, "task_type": "text_to_video",
        "created_at": task.iso(),
    }}  # fmt: skip


def _vibegen_error(status: int, message: str) -> Json:
    return {"success": False, "error": {"code": f"HTTP_{status}", "message": message}}


def _vibegen_query(task: FakeTask, status: str) -> Json:
    done = status in ("completed", "failed")
    return {"success": True, "data": {
        "id": task.id, "status": status, "model": task.model, "task_type": "text_to_video",
        "prompt": "a city at sunset", "created_at": task.iso(),
        "video_url": task.video_url if status == "completed" else None,
        "completed_at": task.iso(time.time()) if done else None,
        "error": FAILURE if status == "failed" else None,
    }}  # fmt: skip


def _vibegen_callback(task: FakeTask, status: str) -> Json:
    if status == "completed":
        return {"event": "task.completed", "task_id": task.id, "status": status,
                "video_url": task.video_url, "created_at": task.iso(),
                "completed_at": task.iso(time.time())}  # fmt: skip
    return {"event": "task.failed", "task_id": task.id, "status": status,
            "error_message": FAILURE, "created_at": task.iso(),
            "failed_at": task.iso(time.time())}  # fmt: skip


def _evolink_task(task: FakeTask, status: str) -> Json:
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


def _evolink_error(status: int, message: str) -> Json:
    error = {"code": f"http_{status}", "message": message, "type": "invalid_request_error"}
    return {"error": error}


def _ark_task(task: FakeTask, word: str) -> Json:
    body: Json = {
        "id": task.id, "model": task.model, "status": word, "resolution": "720p",
        "duration": 5, "created_at": int(task.created), "updated_at": int(time.time()),
    }  # fmt: skip
    if word == "succeeded":
        body["content"] = {"video_url": task.video_url}
    if word == "failed":
        body["error"] = {"code": "OutputVideoSensitiveContentDetected", "message": FAILURE}
    return body


def _videoapi_query(task: FakeTask, status: str) -> Json:
    done = status == "completed"
    return {
        "task_id": task.id, "status": status, "format": "mp4",
        "url": task.video_url if done else None,
        "generated": [task.video_url] if done else [], "videos": [task.video_url] if done else [],
        "metadata": {"credits_reserved": 180, "public_model": task.model},
        "credits_reserved": 180, "credits_refunded": status == "failed",
        "error": {"message": FAILURE} if status == "failed" else None,
    }  # fmt: skip


def _seedance_data(task: FakeTask, word: str) -> Json:
    return {"code": 0, "message": "ok", "data": {
        "task_id": task.id, "status": word, "model": task.model, "scene": "text-to-video",
        "videos": [{"url": task.video_url}] if word == "success" else [],
        "error": FAILURE if word == "failed" else None,
    }}  # fmt: skip


def _aioagi_query(task: FakeTask, word: str) -> Json:
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


SAME = {"pending": "pending", "processing": "processing", "completed": "completed",
        "failed": "failed"}  # fmt: skip
ARK_WORDS = {"pending": "queued", "processing": "running", "completed": "succeeded",
             "failed": "failed"}  # fmt: skip

DIALECTS: dict[str, Dialect] = {
    "vibegen": Dialect(
        create_path="/generations",
        query_prefix="/tasks/",
        words=SAME,
        created=_vibegen_created,
        query=_vibegen_query,
        callback=_vibegen_callback,
        error=_vibegen_error,
    ),
    "evolink": Dialect(
        create_path="/v1/videos/generations",
        query_prefix="/v1/tasks/",
        words=SAME,
        created=lambda t: _evolink_task(t, "pending"),
        query=_evolink_task,
        callback=_evolink_task,
        error=_evolink_error,
    ),
    "ark": Dialect(
        create_path="/api/v3/contents/generations/tasks",
        query_prefix="/api/v3/contents/generations/tasks/",
        words=ARK_WORDS,
        created=lambda t: {"id": t.id},
        query=_ark_task,
        callback=_ark_task,
        error=_error,
    ),
    "videoapi": Dialect(
        create_path="/v1/video/generations",
        query_prefix="/v1/video/generations/",
        words=SAME,
        created=lambda t: {"task_id": t.id, "status": "pending"},
        query=_videoapi_query,
        error=_error,
    ),
    "seedanceapi": Dialect(
        create_path="/v1/video/generate",
        query_prefix=None,
        query_post_path="/v1/video/query",
        words={**SAME, "completed": "success"},
        created=lambda t: _seedance_data(t, "pending"),
        query=_seedance_data,
        error=lambda status, message: {"code": status, "message": message},
    ),
    "aioagi": Dialect(
        create_path="/videos",
        query_prefix="/videos/",
        words=ARK_WORDS,
        created=lambda t: {"id": t.id, "status": "queued", "model": t.model, "created_at": t.iso()},
        query=_aioagi_query,
        error=_error,
    ),
}
