"""The usage columns of an event row, and the task facts that fill an event's gaps."""

from __future__ import annotations

from datetime import datetime

import msgspec

from vidhook.receiver.event import Event
from vidhook.receiver.providers.usage_facts import UsageFacts

__all__ = ["ERROR_CHARS", "encode_facts", "usage_columns", "with_facts"]

# Error messages are grouped for digests' top errors; a long one is cut to this many characters.
ERROR_CHARS = 200

_decode_facts = msgspec.json.Decoder(UsageFacts).decode


def encode_facts(facts: UsageFacts | None) -> str | None:
    """A task's facts as the JSON text the tasks table keeps; None when nothing is known."""
    if facts is None or facts.empty():
        return None
    return msgspec.json.encode(facts).decode()


def with_facts(event: Event, stored: str | bytes | None) -> dict[str, object]:
    """The event fields to replace: the task's stored facts where the event has none."""
    if not stored:
        return {}
    try:
        facts = _decode_facts(stored)
    except msgspec.DecodeError:
        return {}
    fill: dict[str, object] = {}
    for name in ("model", "duration_s", "resolution", "audio"):
        if getattr(event, name) is None and getattr(facts, name) is not None:
            fill[name] = getattr(facts, name)
    return fill


def usage_columns(event: Event) -> dict[str, object]:
    """The columns usage and digests aggregate, from the event."""
    credits = event.credits
    return {
        "model": event.model,
        "duration_s": event.duration_s,
        "resolution": event.resolution,
        "audio": event.audio,
        "credits": credits.reserved if credits else None,
        "refunded": credits.refunded if credits else None,
        "gen_seconds": generation_seconds(event),
        "error": event.error.message[:ERROR_CHARS] if event.error else None,
    }


def generation_seconds(event: Event) -> float | None:
    """How long the provider took: finished_at - created_at, when both are known and ordered."""
    if event.created_at is None or event.finished_at is None:
        return None
    try:
        start = datetime.fromisoformat(event.created_at)
        end = datetime.fromisoformat(event.finished_at)
    except ValueError:
        return None
    seconds = (end - start).total_seconds()
    return seconds if seconds >= 0 else None
