"""Answers to a misspelt name: the closest known names ("did you mean") and all of them."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from vidhook.receiver.errors import NotFound

__all__ = ["did_you_mean", "unknown_name"]


def did_you_mean(word: str, known: Iterable[str]) -> str:
    """`; did you mean 'x'?` for the closest known name, or '' when none is close."""
    close = difflib.get_close_matches(word, list(known), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def unknown_name(kind: str, word: str, known: Iterable[str]) -> NotFound:
    """The NotFound error for an unknown source, sink, rule or provider name."""
    names = sorted(known)
    listed = ", ".join(names) if names else "none"
    return NotFound(
        f"no {kind} named {word!r}{did_you_mean(word, names)} (known: {listed})",
        code=f"unknown_{kind}",
    )
