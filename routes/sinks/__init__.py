"""Sink types, one module each, and the registry that names them.

Third-party sink types plug in through the entry-point group `vidhook.sinks`; each entry point
names a `SinkType`, and its name is the `type` users write in `[sinks.<name>]`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import msgspec

from vidhook.receiver.errors import ConfigError
from vidhook.receiver.suggestions import did_you_mean
from vidhook.routes.sinks.apprise import AppriseConfig, AppriseSink
from vidhook.routes.sinks.base import Sink, SinkContext, SinkType
from vidhook.routes.sinks.email import EmailConfig, EmailSink
from vidhook.routes.sinks.file import FileConfig, FileSink
from vidhook.routes.sinks.http import HttpConfig, HttpSink
from vidhook.routes.sinks.log import LogConfig, LogSink
from vidhook.routes.sinks.slack import SlackConfig, SlackSink

__all__ = ["ENTRY_POINT_GROUP", "SINK_TYPES", "build_sinks", "load_sink_types"]

ENTRY_POINT_GROUP = "vidhook.sinks"

SINK_TYPES: dict[str, SinkType] = {
    "apprise": SinkType(AppriseConfig, AppriseSink),
    "email": SinkType(EmailConfig, EmailSink),
    "file": SinkType(FileConfig, FileSink),
    "http": SinkType(HttpConfig, HttpSink),
    "log": SinkType(LogConfig, LogSink),
    "slack": SinkType(SlackConfig, SlackSink),
}

_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_AT_PATH = re.compile(r" - at `\$(?P<path>[^`]*)`$")
_FIELD = re.compile(r"(?:missing required|unknown) field `(?P<field>[^`]+)`")


def load_sink_types(found: Iterable[EntryPoint] | None = None) -> dict[str, SinkType]:
    """The built-in sink types plus those installed under the `vidhook.sinks` entry points.

    `found` replaces the installed entry points (tests pass their own).
    """
    types = dict(SINK_TYPES)
    for point in entry_points(group=ENTRY_POINT_GROUP) if found is None else found:
        where = f"entry point {point.name} = {point.value}"
        if point.name in SINK_TYPES:
            raise ConfigError(f"{where}: may not replace the built-in sink type {point.name!r}")
        try:
            loaded = point.load()
        except Exception as exc:  # a broken plugin can raise anything on import
            raise ConfigError(f"{where}: cannot load: {type(exc).__name__}: {exc}") from None
        if not isinstance(loaded, SinkType):
            raise ConfigError(f"{where}: is a {type(loaded).__name__}, not a SinkType")
        types[point.name] = loaded
    return types


def build_sinks(
    configs: Mapping[str, Mapping[str, Any]],
    context: SinkContext,
    types: Mapping[str, SinkType] | None = None,
) -> dict[str, Sink]:
    """Decode each `[sinks.<name>]` table into its type's config and build the sink.

    Errors are ConfigErrors naming `sinks.<name>.<field>`. `types` defaults to `load_sink_types()`.
    """
    known = load_sink_types() if types is None else types
    return {name: _build_one(name, raw, context, known) for name, raw in configs.items()}


def _build_one(
    name: str, raw: Mapping[str, Any], context: SinkContext, known: Mapping[str, SinkType]
) -> Sink:
    where = f"sinks.{name}"
    if not _NAME.fullmatch(name):
        raise ConfigError(f"{where}: a sink name may hold only letters, digits, '-', '_', '.'")
    kind = raw.get("type")
    entry = known.get(kind) if isinstance(kind, str) else None
    if entry is None:
        choices = ", ".join(sorted(known))
        close = did_you_mean(str(kind), known)
        raise ConfigError(
            f"{where}.type: unknown sink type {kind!r}{close}; known types: {choices}"
        )
    try:
        config = msgspec.convert(dict(raw), entry.config)
    except msgspec.ValidationError as exc:
        raise ConfigError(_validation_message(where, str(exc))) from None
    return entry.build(name, config, context)


def _validation_message(where: str, message: str) -> str:
    """Turn msgspec's `... - at `$.port`` into `sinks.<name>.port: ...`."""
    at = _AT_PATH.search(message)
    path = at.group("path") if at else ""
    text = message[: at.start()] if at else message
    field = _FIELD.search(text)
    if field:
        path += f".{field.group('field')}"
    return f"{where}{path}: {text}"
