"""The normalised event every provider's callback or poll result becomes."""

from __future__ import annotations

import math
import os
import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal

import msgspec

__all__ = [
    "MAX_TASK_ID",
    "STATUS_RANK",
    "Credits",
    "ErrorInfo",
    "Event",
    "EventType",
    "Status",
    "TaskReport",
    "event_type",
    "field_text",
    "is_terminal",
    "new_id",
    "rfc3339",
    "rfc3339_at",
    "task_id_problem",
    "to_rfc3339",
]

Status = Literal["pending", "processing", "completed", "failed", "cancelled", "expired"]
EventType = Literal["task.completed", "task.failed", "task.progress"]

# Higher rank is later in a task's life; a task never moves to a lower rank.
STATUS_RANK: dict[str, int] = {
    "pending": 0,
    "processing": 1,
    "completed": 2,
    "failed": 2,
    "cancelled": 2,
    "expired": 2,
}


class ErrorInfo(msgspec.Struct, omit_defaults=True):
    """Why a task failed, as the provider put it."""

    message: str
    code: str | None = None


class Credits(msgspec.Struct, omit_defaults=True):
    """Credits the provider reserved for a task and whether they were refunded."""

    reserved: float | None = None
    refunded: bool | None = None


class TaskReport(msgspec.Struct, kw_only=True):
    """What a provider said about one task, before vidhook gives it an identity."""

    task_id: str
    status: Status
    provider_status: str
    model: str | None = None
    video_urls: list[str] = msgspec.field(default_factory=list)
    error: ErrorInfo | None = None
    progress: int | None = None
    credits: Credits | None = None
    created_at: str | None = None
    finished_at: str | None = None
    poll_interval: float | None = None
    duration_s: float | None = None
    resolution: str | None = None
    audio: bool | None = None


class Event(msgspec.Struct, kw_only=True):
    """One normalised task event: what vidhook stores, routes and replays."""

    id: str
    type: EventType
    source: str
    provider: str
    task_id: str
    status: Status
    provider_status: str
    model: str | None = None
    video_urls: list[str] = msgspec.field(default_factory=list)
    # vidhook's own links to its copies of video_urls, same order; empty until archived.
    archived_urls: list[str] = msgspec.field(default_factory=list)
    error: ErrorInfo | None = None
    progress: int | None = None
    credits: Credits | None = None
    labels: dict[str, str] = msgspec.field(default_factory=dict)
    created_at: str | None = None
    finished_at: str | None = None
    received_at: str
    verified_by: list[str] = msgspec.field(default_factory=list)
    # Usage facts: what was generated, from the provider's report or the submit request.
    duration_s: float | None = None
    resolution: str | None = None
    audio: bool | None = None


# PostgreSQL indexes task ids, and cannot index a key over about 2,700 bytes.
MAX_TASK_ID = 512


def task_id_problem(task_id: str) -> str | None:
    """What is wrong with a task id, or None when vidhook can store it and ask a provider
    about it: 1-512 characters, not `.` or `..` (which a URL resolves away)."""
    if not task_id.strip():
        return "task id is empty"
    if len(task_id) > MAX_TASK_ID:
        return f"task id is {len(task_id)} characters long; the limit is {MAX_TASK_ID}"
    if task_id in (".", ".."):
        return f"task id {task_id!r} is not a task id: it would name another URL path"
    return None


def event_type(status: Status) -> EventType:
    """The event type for a normalised status."""
    if status == "completed":
        return "task.completed"
    if status in ("failed", "cancelled", "expired"):
        return "task.failed"
    return "task.progress"


def field_text(doc: Mapping[str, Any], path: str) -> str:
    """An event's value (in its builtins form) at a dotted path, as text: "" when absent,
    `true`/`false` for booleans. `labels.KEY` takes the rest as the key, which may hold dots."""
    if path.startswith("labels."):
        found: Any = doc.get("labels", {}).get(path.removeprefix("labels."))
    else:
        found = doc
        for part in path.split("."):
            found = found.get(part) if isinstance(found, dict) else None
    if found is None:
        return ""
    if isinstance(found, bool):
        return "true" if found else "false"
    return found if isinstance(found, str) else str(found)


def is_terminal(status: str) -> bool:
    """Whether a task in this status will not change again."""
    return STATUS_RANK.get(status, 0) >= 2


def rfc3339(moment: datetime) -> str:
    """Format an aware datetime as RFC 3339 UTC with millisecond precision."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# The last whole second `rfc3339_at` formatted, and its text up to the seconds: a busy
# receiver stamps many callbacks within one second, and datetime's formatting is most of
# the cost of a stamp.
_second: int | None = None
_second_text = ""


def rfc3339_at(seconds: float) -> str:
    """Format a Unix time as RFC 3339 UTC with millisecond precision, as `rfc3339` does."""
    global _second, _second_text
    # Rounded to the microsecond as datetime.fromtimestamp rounds: the fraction alone.
    fraction, whole_float = math.modf(seconds)
    whole, micro = int(whole_float), round(fraction * 1_000_000)
    if micro >= 1_000_000:
        whole, micro = whole + 1, micro - 1_000_000
    elif micro < 0:
        whole, micro = whole - 1, micro + 1_000_000
    if whole != _second:
        _second_text = rfc3339(datetime.fromtimestamp(whole, UTC))[:19]
        _second = whole
    return f"{_second_text}.{micro // 1000:03d}Z"


# RFC 3339 UTC text as `rfc3339` writes it, or with whole seconds or other fraction digits:
# once datetime has accepted it, its own characters are the answer.
_UTC_TEXT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.([0-9]{1,6}))?Z")


def to_rfc3339(value: object) -> str | None:
    """Read a provider timestamp (ISO 8601 string or unix seconds/ms) as RFC 3339 UTC.

    Anything that cannot be read as a moment vidhook can write (a Unicode digit, a huge number,
    a date near year 1 with an offset) gives None rather than an error: a provider's odd clock
    field must not cost the user an event.
    """
    try:
        if isinstance(value, str) and (utc := _UTC_TEXT.fullmatch(value)):
            datetime.fromisoformat(value)  # a real date and time, or ValueError
            return f"{value[:19]}.{((utc[1] or '') + '000')[:3]}Z"
        moment = _moment(value)
        return None if moment is None else rfc3339(moment)
    except (ValueError, OverflowError, OSError):
        return None


# ASCII digits only: str.isdigit() also passes "²" and other digits float() cannot read.
_UNIX_TEXT = re.compile(r"[0-9]+(\.[0-9]*)?|\.[0-9]+")


def _moment(value: object) -> datetime | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        seconds = float(value)
        # Above 1e11 (a date in AD 5138 as seconds) the number can only be milliseconds.
        return datetime.fromtimestamp(seconds / 1000 if seconds > 1e11 else seconds, UTC)
    if isinstance(value, str):
        text = value.strip()
        if _UNIX_TEXT.fullmatch(text):
            return _moment(float(text))
        parsed = datetime.fromisoformat(text)
        return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
    return None


_last_ms = 0
_seq = 0
_ms_text = ""  # the id's text up to its sequence, for _last_ms
# Random bits come from os.urandom in blocks, kept as hex text: one system call per id cost
# more than the rest of the id under load, and slicing text skips the int round trips (an id
# took 3.5 µs, now 2.0 µs). A forked child starts on a fresh block, so it never repeats its
# parent.
_POOL_BYTES = 4000  # 400 ids of 20 hex digits
_pool = ""
_pool_at = 0
# A hex digit with its top two bits set to 10: the RFC 4122 variant.
_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}


def _drop_pool() -> None:
    global _pool, _pool_at
    _pool, _pool_at = "", 0


os.register_at_fork(after_in_child=_drop_pool)


def new_id() -> str:
    """A UUIDv7 string: time-ordered, unique, and sortable as text."""
    global _last_ms, _seq, _ms_text, _pool, _pool_at
    if _pool_at >= len(_pool):
        _pool, _pool_at = os.urandom(_POOL_BYTES).hex(), 0
    # 20 random hex digits: 16 for rand_b, 3 to start a new millisecond's sequence.
    at, _pool_at = _pool_at, _pool_at + 20
    ms = time.time_ns() // 1_000_000
    if ms <= _last_ms:
        _seq += 1
        if _seq > 0xFFF:
            _last_ms, _seq = _last_ms + 1, 0
            _ms_text = _time_text(_last_ms)
    else:
        _last_ms, _seq = ms, int(_pool[at + 16 : at + 19], 16) & 0x3FF
        _ms_text = _time_text(ms)
    # 62 random bits: the variant's digit keeps two of its four.
    variant, rand_b = _VARIANT[_pool[at]], _pool[at + 1 : at + 16]
    return f"{_ms_text}{_seq:03x}-{variant}{rand_b[:3]}-{rand_b[3:]}"


def _time_text(ms: int) -> str:
    h = f"{ms:012x}"
    return f"{h[:8]}-{h[8:]}-7"
