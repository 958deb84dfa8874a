"""Rule-level grouping, as Alertmanager's: a rule with `group_by` batches what it sends to
`slack` and `email` sinks.

The first event of a group (the rule, the sink, and the event's values at the `group_by`
paths) waits `group_wait` for company; then one message goes out with the count and the first
few events. Events of the same group within `group_interval` after a flush go into the next
message, `group_interval` after the one before. Every other sink type of the rule (`http`,
`log`, `file`, plugins) still gets one delivery per event. `group_by = []` puts all of a rule's
events in one group.

    [[rules]]
    name = "failures-to-people"
    when = { type = "task.failed" }
    sinks = ["ops-slack", "ops-email", "app"]
    group_by = ["source", "type", "labels.team"]
    group_wait = "30s"          # default 30 s
    group_interval = "5m"       # default 5 min
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from vidhook.receiver.config import RuleConfig
from vidhook.receiver.durations import parse_duration
from vidhook.receiver.errors import ConfigError
from vidhook.receiver.event import Credits, ErrorInfo, Event, field_text
from vidhook.receiver.suggestions import did_you_mean

__all__ = [
    "DEFAULT_INTERVAL",
    "DEFAULT_WAIT",
    "GROUPABLE_TYPES",
    "GROUP_PATHS",
    "Grouping",
    "build_grouping",
]

GROUPABLE_TYPES = frozenset({"slack", "email"})
DEFAULT_WAIT = 30.0
DEFAULT_INTERVAL = 300.0

_SCALARS = (str, int, float, bool, type(None))


def _scalar_paths(struct: type[msgspec.Struct], prefix: str = "") -> list[str]:
    """The dotted paths of a Struct's fields that hold one value (not lists or maps)."""
    paths = []
    for field in msgspec.structs.fields(struct):
        if field.name == "labels":
            continue
        if field.type in (ErrorInfo | None, Credits | None):
            inner = ErrorInfo if field.type == ErrorInfo | None else Credits
            paths += _scalar_paths(inner, f"{prefix}{field.name}.")
        elif not str(field.type).startswith(("list", "dict")):
            paths.append(f"{prefix}{field.name}")
    return paths


# Every path `group_by` may name besides `labels.<key>`.
GROUP_PATHS: tuple[str, ...] = tuple(_scalar_paths(Event))


@dataclass(frozen=True, slots=True)
class Grouping:
    """How a rule groups: the paths of the group key and the two waits, in seconds."""

    by: tuple[str, ...]
    wait: float = DEFAULT_WAIT
    interval: float = DEFAULT_INTERVAL

    def key(self, doc: Mapping[str, Any]) -> str:
        """The group key of an event (its builtins form): JSON of (path, value) pairs."""
        return _encode([(path, field_text(doc, path)) for path in self.by]).decode()

    def describe(self) -> str:
        """The grouping on one line, for `vidhook check`."""
        by = ", ".join(self.by) or "(everything in one group)"
        return f"by {by}; wait {self.wait:g} s, interval {self.interval:g} s; slack and email only"


_encode = msgspec.json.Encoder().encode


def _seconds(value: float | str | None, default: float, where: str) -> float:
    if value is None:
        return default
    try:
        seconds = parse_duration(value) if isinstance(value, str) else float(value)
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    if not seconds > 0:
        raise ConfigError(f"{where}: must be above zero, not {value!r}")
    return seconds


def _check_path(path: str, where: str) -> None:
    if path.startswith("labels.") and len(path) > len("labels."):
        return
    if path not in GROUP_PATHS:
        close = did_you_mean(path, [*GROUP_PATHS, "labels.<key>"])
        raise ConfigError(
            f"{where}: unknown event field {path!r}{close} (known: {', '.join(GROUP_PATHS)},"
            " labels.<key>)"
        )


def build_grouping(config: RuleConfig, where: str) -> Grouping | None:
    """The rule's grouping, checked; None when it has no `group_by`. `where` names the rule."""
    if config.group_by is None:
        for key in ("group_wait", "group_interval"):
            if getattr(config, key) is not None:
                raise ConfigError(f"{where}: {key}: needs group_by (the fields to group by)")
        return None
    for path in config.group_by:
        _check_path(path, f"{where}: group_by")
    return Grouping(
        by=tuple(dict.fromkeys(config.group_by)),
        wait=_seconds(config.group_wait, DEFAULT_WAIT, f"{where}: group_wait"),
        interval=_seconds(config.group_interval, DEFAULT_INTERVAL, f"{where}: group_interval"),
    )
