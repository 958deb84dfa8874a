"""What a digest says: per group, over one period, the tasks and how they went."""

from __future__ import annotations

import msgspec

__all__ = ["DigestGroup", "DigestReport", "ErrorCount"]


class ErrorCount(msgspec.Struct, kw_only=True):
    """One error message and how many failed tasks gave it."""

    message: str
    count: int


class DigestGroup(msgspec.Struct, kw_only=True):
    """One group's figures. Times are generation times in seconds (finished - created)."""

    group: dict[str, str]
    tasks: int = 0
    completed: int = 0
    failed: int = 0
    failure_rate: float = 0.0
    top_errors: list[ErrorCount] = msgspec.field(default_factory=list)
    p50_seconds: float | None = None
    p95_seconds: float | None = None
    credits: float = 0.0
    estimated: float = 0.0
    cost: float | None = None


class DigestReport(msgspec.Struct, kw_only=True):
    """One digest run: its name, the period [since, until), and every group, most tasks first."""

    name: str
    since: str
    until: str
    group_by: list[str]
    unit: str
    currency: str | None
    groups: list[DigestGroup]
