"""`[[digests]]`: a summary per group sent on a cron schedule in a time zone.

The schedule is read by cronsim, which fires a time a clock change skips at the first moment
after the gap (02:30 on a spring-forward night fires at 03:00) and a time a clock change repeats
once (the first 02:30), as cron itself does; so a digest fires once a day across both changes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
from cronsim import CronSim, CronSimError

from vidhook.receiver.providers.source_config import ConfigStruct

__all__ = ["DigestConfig", "next_fire"]


class DigestConfig(ConfigStruct):
    """One digest: when it fires, which events it covers, how it groups, where it goes."""

    name: str
    schedule: str
    sinks: list[str]
    timezone: str = "UTC"
    when: dict[str, Any] | None = None
    group_by: list[str] = msgspec.field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.name or len(self.name) > 64:
            raise ValueError("name: 1-64 characters")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"timezone: {self.timezone!r} is not an IANA time zone such as Europe/Berlin"
            ) from None
        try:
            CronSim(self.schedule, datetime.now(UTC))
        except CronSimError as exc:
            raise ValueError(
                f"schedule: {self.schedule!r} is not a cron expression: {exc}"
            ) from None
        if not self.sinks:
            raise ValueError("sinks: name at least one sink")


def next_fire(digest: DigestConfig, after: float) -> float:
    """The first time (unix seconds) after `after` that the schedule names, in its time zone."""
    zone = ZoneInfo(digest.timezone)
    start = datetime.fromtimestamp(after, UTC).astimezone(zone).replace(microsecond=0)
    return next(CronSim(digest.schedule, start)).timestamp()
