"""Usage facts: what a task generated (model, length, resolution, audio), read tolerantly.

Providers report these in their own shapes, or not at all; the submit request usually says
what was asked for. Every reader here gives None for a value it cannot read, because an odd
usage field must never cost the user an event.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

import msgspec

__all__ = ["Loose", "UsageFacts", "read_audio", "read_resolution", "read_seconds", "request_facts"]

# A field read tolerantly: whatever JSON a provider sends there, never a decoding error.
Loose = object

# Keys a create-task body names these facts by, across the providers' dialects.
_MODEL_KEYS = ("model",)
_DURATION_KEYS = ("duration", "duration_seconds", "seconds", "video_duration")
_RESOLUTION_KEYS = ("resolution", "quality")
_AUDIO_KEYS = ("audio", "with_audio", "generate_audio", "sound")

_RESOLUTION = re.compile(r"([0-9]{3,4})\s*[pP]")
# Ark writes parameters into the prompt text: "... --resolution 720p --duration 5".
_PROMPT_FLAG = re.compile(r"--(resolution|duration|dur|rs)\s+([0-9a-zA-Z.]+)")


class UsageFacts(msgspec.Struct, kw_only=True, omit_defaults=True):
    """What a task generated or was asked to generate; None where nobody said."""

    model: str | None = None
    duration_s: float | None = None
    resolution: str | None = None
    audio: bool | None = None

    def empty(self) -> bool:
        """Whether no fact is known."""
        return self == UsageFacts()


def read_seconds(value: Loose) -> float | None:
    """A video length in seconds from a number or numeric text ("5", "5s"); else None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        text = value.strip().removesuffix("s").strip()
        if not re.fullmatch(r"[0-9]{1,5}(\.[0-9]{1,3})?", text):
            return None
        value = float(text)
    if not isinstance(value, int | float):
        return None
    seconds = float(value)
    return seconds if math.isfinite(seconds) and 0 < seconds <= 86_400 else None


def read_resolution(value: Loose) -> str | None:
    """A resolution as "720p", from "720p", "720P", 720 or "1280x720"; else None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return f"{int(value)}p" if 100 <= value <= 9999 else None
    if not isinstance(value, str):
        return None
    text = value.strip()
    if match := _RESOLUTION.fullmatch(text):
        return f"{int(match.group(1))}p"
    size = re.fullmatch(r"([0-9]{3,4})\s*[xX*]\s*([0-9]{3,4})", text)
    if size:
        return f"{min(int(size.group(1)), int(size.group(2)))}p"
    return None


def read_audio(value: Loose) -> bool | None:
    """Whether audio was generated, from a boolean or "true"/"false"; else None."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def request_facts(body: Mapping[str, object]) -> UsageFacts:
    """The usage facts a provider's create-task body asks for, whichever dialect it is in:
    top-level keys such as `model`, `duration`/`duration_seconds`, `resolution`/`quality`,
    `with_audio`/`generate_audio`, and Ark's `--resolution 720p --duration 5` prompt flags."""
    flags = dict(_prompt_flags(body))
    model = _first(body, _MODEL_KEYS)
    return UsageFacts(
        model=model[:200] if isinstance(model, str) and model else None,
        duration_s=read_seconds(_first(body, _DURATION_KEYS))
        or read_seconds(flags.get("duration") or flags.get("dur")),
        resolution=read_resolution(_first(body, _RESOLUTION_KEYS))
        or read_resolution(flags.get("resolution") or flags.get("rs")),
        audio=read_audio(_first(body, _AUDIO_KEYS)),
    )


def _first(body: Mapping[str, object], keys: tuple[str, ...]) -> object:
    for key in keys:
        if body.get(key) is not None:
            return body[key]
    return None


def _prompt_flags(body: Mapping[str, object]) -> list[tuple[str, str]]:
    """Ark's parameters written as flags in the text parts of `content`."""
    texts = [body.get("prompt")]
    content = body.get("content")
    if isinstance(content, list):
        texts += [part.get("text") for part in content if isinstance(part, dict)]
    found: list[tuple[str, str]] = []
    for text in texts:
        if isinstance(text, str):
            found += _PROMPT_FLAG.findall(text)
    return found
