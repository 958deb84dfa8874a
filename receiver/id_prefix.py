"""Ids as people type them: any unique prefix of an event or delivery id (`0193a4f2`).

Ids are UUIDv7 strings, which sort as text, so the ids starting with a prefix are the newest
ones below the largest id with that prefix (the prefix padded with `f`). The lookup goes
through the store's ordinary listings, so every store answers it the same way.
"""

from __future__ import annotations

import re

from vidhook.receiver.errors import BadRequest, NotFound
from vidhook.receiver.store import Store

__all__ = ["resolve_delivery_id", "resolve_event_id"]

_LARGEST = "ffffffff-ffff-ffff-ffff-ffffffffffff"
_SHOWN = 10  # matches listed when a prefix is ambiguous
_HEX = re.compile(r"[0-9a-f-]{1,36}")


def _normalise(text: str) -> str | None:
    """The prefix in the ids' own spelling (lower case, dashes where a UUID has them), or
    None when no id could start with it."""
    value = text.strip().lower()
    if "-" not in value and len(value) > 8:
        parts = [value[:8], value[8:12], value[12:16], value[16:20], value[20:32]]
        value = "-".join(part for part in parts if part)
    if not _HEX.fullmatch(value) or any(
        char != _LARGEST[i] for i, char in enumerate(value) if "-" in (char, _LARGEST[i])
    ):
        return None
    return value


def _pick(kind: str, text: str, prefix: str, ids: list[str]) -> str:
    found = [value for value in ids if value.startswith(prefix)]
    if not found:
        raise NotFound(f"no {kind} with id {text[:64]!r}", code=f"unknown_{kind}")
    if len(found) > 1:
        more = "" if len(found) < _SHOWN + 1 else ", ..."
        raise BadRequest(
            f"{kind} id prefix {text!r} is ambiguous: it matches "
            f"{', '.join(found[:_SHOWN])}{more}; type more of the id",
            code="ambiguous_id",
        )
    return found[0]


async def resolve_event_id(store: Store, text: str) -> str:
    """The full id of the one event whose id starts with `text`."""
    prefix = _normalise(text)
    if prefix is None:
        raise NotFound(f"no event with id {text[:64]!r}", code="unknown_event")
    if len(prefix) == len(_LARGEST):
        return prefix
    bound = prefix + _LARGEST[len(prefix) :]
    return _pick("event", text, prefix, await store.event_ids_below(bound, _SHOWN + 1))


async def resolve_delivery_id(store: Store, text: str) -> str:
    """The full id of the one delivery whose id starts with `text`."""
    prefix = _normalise(text)
    if prefix is None:
        raise NotFound(f"no delivery with id {text[:64]!r}", code="unknown_delivery")
    if len(prefix) == len(_LARGEST):
        return prefix
    bound = prefix + _LARGEST[len(prefix) :]
    rows = await store.list_deliveries(None, None, bound, _SHOWN + 1)
    return _pick("delivery", text, prefix, [row.id for row in rows])
