"""Usage as the store aggregates it: group keys, and one row per group and price bucket."""

from __future__ import annotations

import re
from collections.abc import Sequence

import msgspec

from vidhook.receiver.errors import BadRequest
from vidhook.receiver.store.connector import Row

__all__ = [
    "MAX_GROUP_BY",
    "USAGE_FIELDS",
    "UsageBucket",
    "check_group_by",
    "group_params",
    "usage_bucket",
]

# The event fields usage groups by, besides `labels.KEY`: each is a column of events.
USAGE_FIELDS = (
    "source",
    "provider",
    "type",
    "status",
    "model",
    "task_id",
    "resolution",
    "duration_s",
    "audio",
    "error",
)
MAX_GROUP_BY = 3
# SQLite reads `labels ->> KEY` as the path `$.KEY`, so a key there holds no `.`, `[` or quote.
_LABEL_KEY = re.compile(r"[A-Za-z0-9_:/@-]{1,64}")


class UsageBucket(msgspec.Struct, kw_only=True):
    """Usage of one group (`keys`, in `group_by` order) within one price bucket (provider,
    model, resolution, duration, audio): tasks first reported, completed, failed, credits the
    provider reported (not refunded), and completed tasks it reported no credits for."""

    keys: list[str | None]
    provider: str
    model: str | None
    resolution: str | None
    duration_s: float | None
    audio: bool | None
    tasks: int
    completed: int
    failed: int
    credits: float
    unreported: int


def check_group_by(group_by: Sequence[str]) -> list[str]:
    """The group keys, each an event field of `USAGE_FIELDS` or `labels.KEY`; BadRequest
    naming the first one that is not, or when there are more than `MAX_GROUP_BY`."""
    if len(group_by) > MAX_GROUP_BY:
        raise BadRequest(
            f"group_by: at most {MAX_GROUP_BY} fields, not {len(group_by)}", code="invalid_group_by"
        )
    for field in group_by:
        label = field.removeprefix("labels.")
        if field in USAGE_FIELDS or (label != field and _LABEL_KEY.fullmatch(label)):
            continue
        raise BadRequest(
            f"group_by: {field[:80]!r} is not a field usage can group by; use one of"
            f" {', '.join(USAGE_FIELDS)} or labels.KEY (KEY of letters, digits and _:/@-)",
            code="invalid_group_by",
        )
    return list(group_by)


def group_params(group_by: Sequence[str]) -> dict[str, str]:
    """The `usage` statement's key parameters: `f1..f3` name a column or `label`, and
    `l1..l3` the label's key."""
    params: dict[str, str] = {}
    fields = check_group_by(group_by)
    for slot in range(1, MAX_GROUP_BY + 1):
        field = fields[slot - 1] if slot <= len(fields) else ""
        label = field.removeprefix("labels.") if field.startswith("labels.") else ""
        params[f"f{slot}"] = "label" if label else field
        params[f"l{slot}"] = label
    return params


def usage_bucket(row: Row, width: int) -> UsageBucket:
    """A `usage` row with `width` group keys."""
    return UsageBucket(
        keys=[_key(row[f"g{slot}"]) for slot in range(1, width + 1)],
        provider=row["provider"],
        model=row["model"],
        resolution=row["resolution"],
        duration_s=None if row["duration_s"] is None else float(row["duration_s"]),
        audio=None if row["audio"] is None else bool(row["audio"]),
        tasks=int(row["tasks"] or 0),
        completed=int(row["completed"] or 0),
        failed=int(row["failed"] or 0),
        credits=float(row["credits"] or 0.0),
        unreported=int(row["unreported"] or 0),
    )


def _key(value: object) -> str | None:
    """A group key as text; a number (a duration) as both dialects would agree to write it."""
    if value is None:
        return None
    if isinstance(value, float):
        return f"{value:g}"
    text = str(value)
    try:
        return f"{float(text):g}" if re.fullmatch(r"[0-9]+\.[0-9]+", text) else text
    except ValueError:
        return text
