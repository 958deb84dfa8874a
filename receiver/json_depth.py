"""How deeply a JSON text nests, measured on the bytes before anything decodes them."""

from __future__ import annotations

import re

__all__ = ["nests_deeper_than"]

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
