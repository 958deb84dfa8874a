"""Readers that every provider dialect shares: ids, status tables, URLs, errors, clocks, paths.

Each provider module decodes its body into its own Structs; these small functions turn the
decoded fields into a TaskReport's fields the same way for all of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import get_args
from urllib.parse import quote

import msgspec

from vidhook.receiver.errors import BadRequest, ConfigError, UnreadablePayload, UpstreamError
from vidhook.receiver.event import ErrorInfo, Status, task_id_problem, to_rfc3339

__all__ = [
    "STATUSES",
    "Clock",
    "ErrorBody",
    "UrlItem",
    "api_url",
    "checked_task_id",
    "error_info",
    "lookup",
    "map_status",
    "normalised_status",
    "path_segment",
    "poll_seconds",
    "progress_percent",
    "provider_refused",
    "read_time",
    "require_task_id",
    "unique_urls",
    "video_urls",
]

STATUSES: tuple[Status, ...] = get_args(Status)

# A provider's timestamp: ISO 8601 text or unix seconds/milliseconds.
Clock = str | float | None


class ErrorBody(msgspec.Struct):
    """An error object as most providers send it: `{code, message}`, either part optional."""

    message: str | None = None
    code: str | int | None = None


class UrlItem(msgspec.Struct):
    """One entry of a list of videos sent as objects: `{url}`."""

    url: str | None = None


def require_task_id(value: str | int | None, provider: str, path: str = "task_id") -> str:
    """The provider's task id as text; an empty or missing id cannot name a task."""
    if isinstance(value, bool) or value is None:
        raise UnreadablePayload(f"{provider} payload: no task id at `{path}`")
    text = str(value)
    if not text.strip():
        raise UnreadablePayload(f"{provider} payload: empty task id at `{path}`")
    return text


def normalised_status(word: str) -> Status | None:
    """The word itself when it already is one of vidhook's statuses, else None."""
    for status in STATUSES:
        if status == word:
            return status
    return None


def map_status(
    word: str, table: Mapping[str, Status], provider: str, path: str = "status"
) -> Status:
    """Look a provider's status word up in its table; an unknown word is unreadable."""
    status = table.get(word)
    if status is None:
        raise UnreadablePayload(f"{provider} payload: unknown status {word!r} at `{path}`")
    return status


def unique_urls(*groups: Iterable[str | None]) -> list[str]:
    """Non-empty URLs from all groups, first occurrence kept, each exactly as received."""
    seen: dict[str, None] = {}
    for group in groups:
        for url in group:
            if url:
                seen.setdefault(url, None)
    return list(seen)


def video_urls(status: Status, *groups: Iterable[str | None]) -> list[str]:
    """The task's video URLs, which an event carries only once the task is completed."""
    return unique_urls(*groups) if status == "completed" else []


def error_info(error: str | ErrorBody | None) -> ErrorInfo | None:
    """An ErrorInfo from a provider's error string or `{code, message}` object."""
    if isinstance(error, str):
        return ErrorInfo(message=error) if error else None
    if error is None:
        return None
    code = None if error.code is None else str(error.code)
    message = error.message or code
    return ErrorInfo(message=message, code=code) if message else None


def progress_percent(value: float | None) -> int | None:
    """A provider's progress as a whole percentage held within 0..100."""
    if value is None or value != value:  # NaN
        return None
    return max(0, min(100, int(value)))


def poll_seconds(value: float | None) -> float | None:
    """A provider's requested poll interval; zero or less would make the poller spin."""
    return value if value is not None and value > 0 else None


def read_time(value: object) -> str | None:
    """A provider timestamp as RFC 3339 UTC, or None when it cannot be read as one."""
    try:
        return to_rfc3339(value)
    except (ValueError, OverflowError):
        # Odd values (a huge integer, a Unicode digit, a date near year 1 with an offset)
        # must not cost the user an event.
        return None


def provider_refused(
    provider: str, message: str | None, code: str | int | None = None
) -> UpstreamError:
    """The error for a provider that answered with its own error instead of a task."""
    detail = message or "no message"
    if code is not None:
        detail = f"{detail} (code {code})"
    return UpstreamError(
        f"{provider} answered with an error: {detail}", status_code=502, code="provider_error"
    )


def api_url(base_url: str, path: str, *, provider: str) -> str:
    """An absolute URL of the provider's API: the source's base address and a path."""
    if not base_url:
        raise ConfigError(f"{provider} has no public API address; set the source's `base_url`")
    return base_url.rstrip("/") + path


def checked_task_id(task_id: str) -> str:
    """A task id to ask a provider about: an empty one names no task, and `.` or `..`
    would name another URL path (the rules are the event model's)."""
    problem = task_id_problem(task_id)
    if problem is not None:
        raise BadRequest(problem, code="invalid_task_id")
    return task_id


def path_segment(task_id: str) -> str:
    """A task id quoted as one URL path segment, so no id can reach another endpoint."""
    return quote(checked_task_id(task_id), safe="")


def lookup(document: object, path: str) -> object:
    """The value at a dotted path such as `data.outputs.0.url`, or None when nothing is there."""
    value = document
    for part in path.split("."):
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdecimal() and part.isascii():
            index = int(part)
            value = value[index] if index < len(value) else None
        else:
            return None
    return value
