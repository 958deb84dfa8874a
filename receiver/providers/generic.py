"""generic: any JSON body, its fields located by the source's `mapping` of dotted paths.

A path such as `data.outputs.0.url` walks objects by key and lists by index. Status words
go through the source's `statuses` table; a word missing from it passes when it already is
one of vidhook's statuses (`completed`, `failed`, ...). A generic source has no task-query
API, so it is never polled, confirmed or submitted to; it only takes callbacks.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any, TypeVar

import msgspec

from vidhook.receiver.errors import UnreadablePayload
from vidhook.receiver.event import ErrorInfo, Status, TaskReport
from vidhook.receiver.providers.base import Callbacks, Provider, decode_payload
from vidhook.receiver.providers.reading import (
    STATUSES,
    ErrorBody,
    UrlItem,
    error_info,
    lookup,
    normalised_status,
    progress_percent,
    read_time,
    require_task_id,
    video_urls,
)
from vidhook.receiver.providers.samples import Json, Outcome, fresh_tail
from vidhook.receiver.providers.source_config import ConfigStruct, SourceConfigBase

__all__ = ["PROVIDER", "GenericSource", "MappingConfig", "read_body", "simulated_callback"]

NAME = "generic"

T = TypeVar("T")


class MappingConfig(ConfigStruct):
    """Dotted paths that locate a generic provider's fields in its JSON body."""

    task_id: str
    status: str
    video_urls: str | None = None
    error: str | None = None
    model: str | None = None
    progress: str | None = None
    created_at: str | None = None
    finished_at: str | None = None


class GenericSource(SourceConfigBase, tag=NAME, kw_only=True):
    """A generic source: where its fields are (`mapping`) and what its status words mean."""

    mapping: MappingConfig
    statuses: dict[str, str] = {}

    def __post_init__(self) -> None:
        bad = {word: status for word, status in self.statuses.items() if status not in STATUSES}
        if bad:
            # msgspec reports a ValueError from here as an error at this source's key path.
            raise ValueError(f"statuses: unknown target status {bad}; use one of {STATUSES}")


def read_body(body: bytes, source: GenericSource) -> TaskReport:
    """Read a generic callback through the source's mapping."""
    mapping = source.mapping
    document = decode_payload(body, object, NAME)
    word = _read(document, mapping.status, str)
    if word is None:
        raise UnreadablePayload(f"{NAME} payload: no status at `{mapping.status}`")
    status = _status(word, source.statuses, mapping.status)
    progress = _read(document, mapping.progress, float)
    return TaskReport(
        task_id=_task_id(document, mapping.task_id),
        status=status,
        provider_status=word,
        model=_read(document, mapping.model, str),
        video_urls=video_urls(status, _urls(document, mapping.video_urls)),
        error=_error(document, mapping.error),
        progress=progress_percent(progress),
        created_at=_time(document, mapping.created_at),
        finished_at=_time(document, mapping.finished_at),
    )


def _status(word: str, table: dict[str, str], path: str) -> Status:
    status = normalised_status(table.get(word, word))
    if status is None:
        raise UnreadablePayload(
            f"{NAME} payload: status {word!r} at `{path}` is not in the source's `statuses` table"
        )
    return status


def _task_id(document: object, path: str) -> str:
    value = lookup(document, path)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return require_task_id(_read(document, path, str), NAME, path)


def _urls(document: object, path: str | None) -> list[str | None]:
    value = lookup(document, path) if path else None
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    items = _read(document, path, list[str | UrlItem]) or []
    return [item if isinstance(item, str) else item.url for item in items]


def _error(document: object, path: str | None) -> ErrorInfo | None:
    value = lookup(document, path) if path else None
    if isinstance(value, str):
        return error_info(value)
    return error_info(_read(document, path, ErrorBody))


def _time(document: object, path: str | None) -> str | None:
    return read_time(lookup(document, path)) if path else None


def _read(document: object, path: str | None, kind: type[T]) -> T | None:
    """The value at `path` as `kind`; a value of another shape is unreadable, naming the path."""
    value = lookup(document, path) if path else None
    if value is None:
        return None
    try:
        return msgspec.convert(value, kind)
    except msgspec.ValidationError as exc:
        raise UnreadablePayload(f"{NAME} payload: `{path}`: {exc}") from None


def simulated_callback(outcome: Outcome, source: GenericSource, now: float) -> Json:
    """A body laid out by the source's `mapping`, with its own status word."""
    mapping = source.mapping
    words = [word for word, status in source.statuses.items() if status == outcome]
    document: Json = {}
    _put(document, mapping.task_id, f"sim-{fresh_tail(10)}")
    _put(document, mapping.status, words[0] if words else outcome)
    if mapping.model:
        _put(document, mapping.model, "simulated-model")
    if outcome == "completed" and mapping.video_urls:
        _put(document, mapping.video_urls, [f"https://cdn.example.com/videos/{fresh_tail(6)}.mp4"])
    if outcome == "failed" and mapping.error:
        _put(document, mapping.error, {"code": "E_SIMULATED", "message": "Simulated failure"})
    return document


def _put(document: Json, path: str, value: Any) -> None:
    """Set the value at a dotted path, making objects on the way; an index part (`outputs.0`)
    makes a list, as the reader walks lists by index."""
    parts = path.split(".")
    node: Any = document
    for part, child in pairwise(parts):
        node = _slot(node, part, [] if child.isdecimal() else {})
    _slot(node, parts[-1], value, replace=True)


def _slot(node: Any, key: str, value: Any, *, replace: bool = False) -> Any:
    """The child of a dict or list at `key`, set to `value` when missing (or `replace`)."""
    if isinstance(node, list):
        index = int(key)
        node.extend([None] * (index + 1 - len(node)))
        if replace or node[index] is None:
            node[index] = value
        return node[index]
    if replace or key not in node:
        node[key] = value
    return node[key]


PROVIDER = Provider(
    name=NAME,
    config=GenericSource,
    callbacks=Callbacks(read=read_body, simulate=simulated_callback),
)
