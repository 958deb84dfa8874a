"""How deeply a JSON text nests, measured on the bytes before anything decodes them."""

from __future__ import annotations

import re

from vidhook.receiver.errors import BadRequest

__all__ = ["nests_deeper_than", "refuse_deep_json"]

# A JSON string, escapes included: brackets inside one do not nest anything.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_OPENERS = frozenset(b"[{")


def nests_deeper_than(body: bytes, limit: int) -> bool:
    """Whether the JSON text opens more than `limit` arrays or objects inside each other.

    Text that is not JSON may give either answer; the decoder that reads it afterwards says
    what is wrong with it.
    """
    if body.count(b"[") + body.count(b"{") <= limit:
        return False  # the usual callback: too few brackets to be deep, no scan needed
    depth = 0
    for byte in _STRING.sub(b"", body).translate(None, _NOT_BRACKETS):
        if byte in _OPENERS:
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def refuse_deep_json(body: bytes, limit: int) -> None:
    """Raise BadRequest (`json_too_deep`) for a JSON text nested deeper than `limit`: the
    decoders recurse, and a deep enough text would exhaust the stack."""
    if nests_deeper_than(body, limit):
        raise BadRequest(
            f"JSON body nests deeper than {limit} levels (server.max_json_depth)",
            code="json_too_deep",
        )
