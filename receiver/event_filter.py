"""Event filters as people write them: times as RFC 3339 or an age (`7d`), labels as `key:value`.

The admin API's query parameters and the CLI's options both pass through here, so a filter
means the same on either side.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import msgspec

from vidhook.receiver.errors import BadRequest
from vidhook.receiver.event import rfc3339
from vidhook.receiver.identifiers import check_labels, check_value
from vidhook.receiver.store.records import EventFilter

__all__ = ["AGE_UNITS", "build_filter", "parse_labels", "parse_moment"]

AGE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_AGE = re.compile(r"(\d{1,7})([smhdw])")


def parse_moment(text: str, now: float, *, name: str) -> str:
    """A time as RFC 3339 UTC, from RFC 3339 / ISO 8601 text or an age before `now` (`7d`)."""
    value = text.strip()
    age = _AGE.fullmatch(value)
    if age:
        seconds = int(age.group(1)) * AGE_UNITS[age.group(2)]
        try:
            return rfc3339(datetime.fromtimestamp(now, UTC) - timedelta(seconds=seconds))
        except OverflowError:
            return rfc3339(datetime.min.replace(tzinfo=UTC))
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return rfc3339(moment)
    except (ValueError, OverflowError):
        raise BadRequest(
            f"{name}: {text[:64]!r} is not a time; write RFC 3339 such as "
            "2025-03-10T10:00:00Z, or an age such as 30m, 12h, 7d",
            code="invalid_filter",
        ) from None


def parse_labels(items: list[str] | None) -> dict[str, str]:
    """Labels written as `key:value` (repeatable), e.g. `team:growth`."""
    labels: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition(":")
        if not sep or not key:
            raise BadRequest(
                f"label: {item[:100]!r} is not key:value, e.g. team:growth", code="invalid_filter"
            )
        labels[key] = value
    return labels


def build_filter(
    *,
    now: float,
    since: str | None = None,
    until: str | None = None,
    labels: dict[str, str] | None = None,
    cursor: str | None = None,
    **fields: str | None,
) -> EventFilter:
    """An EventFilter from written values; `fields` are the exact-match columns
    (source, provider, type, status, task_id, model, sink). Values over the limits of
    `identifiers` are refused (BadRequest): no stored identifier can be that long."""
    for name, value in fields.items():
        check_value(name, value)
    check_value("cursor", cursor)
    check_labels(labels or {}, "label filter")
    base = EventFilter(
        since=parse_moment(since, now, name="since") if since else None,
        until=parse_moment(until, now, name="until") if until else None,
        labels=labels or {},
        before_id=cursor or None,
    )
    return msgspec.structs.replace(base, **{key: value for key, value in fields.items() if value})
