"""Durations in the config: a number of seconds, or a string with a unit (`"30s"`, `"10m"`).

The config's decoded Structs hold plain seconds (floats); `source_durations` turns a source's
duration strings into seconds in the TOML tree before it is decoded.
"""

from __future__ import annotations

import re
from typing import Any

from vidhook.receiver.errors import ConfigError

__all__ = ["SOURCE_DURATIONS", "parse_duration", "source_durations"]

# The options of a source that are durations.
SOURCE_DURATIONS = ("poll_interval", "poll_timeout", "callback_grace")

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_TEXT = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*")


def parse_duration(text: str) -> float:
    """Seconds in `"600"`, `"500ms"`, `"90s"`, `"10m"`, `"2h"` or `"1.5d"`; ValueError for
    anything else."""
    found = _TEXT.fullmatch(text)
    if found is None:
        raise ValueError(
            f"{text!r} is not a duration; write seconds (600) or a number with ms, s, m, h or d"
            ' ("10m")'
        )
    return float(found[1]) * _UNITS[found[2] or "s"]


def source_durations(tree: dict[str, Any]) -> dict[str, Any]:
    """The TOML tree with every source's duration strings turned into seconds; numbers and
    anything not a string are left for the decoder to judge."""
    sources = tree.get("sources")
    if not isinstance(sources, dict):
        return tree
    converted = {}
    for name, source in sources.items():
        if isinstance(source, dict):
            source = dict(source)
            for key in SOURCE_DURATIONS:
                if isinstance(source.get(key), str):
                    try:
                        source[key] = parse_duration(source[key])
                    except ValueError as exc:
                        raise ConfigError(f"sources.{name}.{key}: {exc}") from None
        converted[name] = source
    return {**tree, "sources": converted}
