"""generic: any JSON body, its fields located by the source's `mapping` of dotted paths.

A path such as `data.outputs.0.url` walks objects by key and lists by index. Status words
go through the source's `statuses` table; a word missing from it passes when it already is
one of vidhook's statuses (`completed`, `failed`, ...). A generic source has no task-query
API, so it is never polled or confirmed; it only takes callbacks.
"""

from __future__ import annotations

from typing import TypeVar

import msgspec

from vidhook.receiver.config import MappingConfig, SourceConfig
from vidhook.receiver.errors import ConfigError, UnreadablePayload
from vidhook.receiver.event import ErrorInfo, Status, TaskReport
from vidhook.receiver.providers.base import CreatedTask, Provider, ProviderRequest, decode_payload
from vidhook.receiver.providers.reading import (
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

__all__ = ["PROVIDER", "query_request", "read_body", "read_created"]

NAME = "generic"

# Where a create-task answer's id is looked for, in this order.
CREATED_ID_PATHS = ("task_id", "id", "data.task_id", "data.id")

T = TypeVar("T")


def read_body(body: bytes, source: SourceConfig) -> TaskReport:
    """Read a generic callback (or query answer) through the source's mapping."""
    mapping = _mapping(source)
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


def read_created(body: bytes) -> CreatedTask:
    """Read a create-task answer, taking the task id from the usual places."""
    document = decode_payload(body, object, NAME)
    for path in CREATED_ID_PATHS:
        if lookup(document, path) is not None:
            return CreatedTask(task_id=_task_id(document, path))
    raise UnreadablePayload(f"{NAME} payload: no task id at any of {', '.join(CREATED_ID_PATHS)}")


def query_request(base_url: str, task_id: str) -> ProviderRequest:
    """A generic source has no task-query API to ask."""
    raise ConfigError(f"provider '{NAME}' has no task-query API; its sources take callbacks only")


def _mapping(source: SourceConfig) -> MappingConfig:
    if source.mapping is None:
        raise ConfigError(f"provider '{NAME}' needs a `mapping` of dotted paths")
    return source.mapping


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


PROVIDER = Provider(
    name=NAME,
    default_base_url="",
    read_query=read_body,
    query_request=query_request,
    submit_path="",
    read_created=read_created,
    read_callback=read_body,
)
