"""What a provider's made-up bodies are built from: for `vidhook simulate` and the fake provider.

Each provider module writes its own simulated callback and its fake API's answers in the shapes
its documents show; this module holds the pieces they share: fresh ids and times, the fake
task that knows its vidhook status, and the shape of a fake API.
"""

from __future__ import annotations

import secrets
import string
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from vidhook.receiver.event import rfc3339

__all__ = [
    "FAILURE",
    "SAME_WORDS",
    "FakeApi",
    "FakeTask",
    "Json",
    "Outcome",
    "error_answer",
    "fresh_tail",
    "iso_time",
]

Json = dict[str, Any]
Outcome = Literal["completed", "failed"]
FAILURE = "The request failed because the output video may contain sensitive information."
# A provider's status word for each of vidhook's, where they are the same words.
SAME_WORDS = {"pending": "pending", "processing": "processing", "completed": "completed",
              "failed": "failed"}  # fmt: skip
_ALNUM = string.ascii_lowercase + string.digits


def iso_time(seconds: float) -> str:
    """A unix time as providers write it: RFC 3339 UTC to the second."""
    return rfc3339(datetime.fromtimestamp(seconds, UTC)).replace(".000Z", "Z")


def fresh_tail(length: int) -> str:
    """Random lower-case letters and digits, for ids that differ on every simulation."""
    return "".join(secrets.choice(_ALNUM) for _ in range(length))


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
    poll_interval: float = 2.0  # what a provider that names a poll interval asks for

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


def error_answer(status: int, message: str) -> Json:
    """The `{error: {code, message}}` answer most providers send."""
    return {"error": {"code": f"http_{status}", "message": message}}


@dataclass(frozen=True)
class FakeApi:
    """One provider's API as the fake provider speaks it.

    `words` maps vidhook's status to the provider's word; `query` and `callback` take the task
    and that word. A task is read with GET `{query_prefix}{id}`, or, where `query_prefix` is
    None, by POSTing `{"task_id": id}` to `query_post_path`.
    """

    create_path: str
    query_prefix: str | None
    words: dict[str, str]
    created: Callable[[FakeTask], Json]
    query: Callable[[FakeTask, str], Json]
    error: Callable[[int, str], Json] = error_answer
    callback: Callable[[FakeTask, str], Json] | None = None
    query_post_path: str | None = None
