"""What the operating commands share: the configured store opened directly, and event filters
read from the command line.

The commands that read or retry (`events`, `show`, `deliveries`, `sinks`, `rejected`, `retry`,
`rules try`) open only the store (`store_opened`); only `replay`, which routes events again,
builds the service's wiring (`connected`). Neither starts a background loop."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TextIO, cast

import structlog

from vidhook.receiver.app import build_services
from vidhook.receiver.cli.config_source import (
    config_path,
    open_configured_store,
    require_store,
    resolve_settings,
)
from vidhook.receiver.config import Settings
from vidhook.receiver.errors import BadRequest, Unreachable, VidhookError
from vidhook.receiver.event_filter import build_filter
from vidhook.receiver.providers import PROVIDER_NAMES
from vidhook.receiver.services import Services
from vidhook.receiver.store import Store
from vidhook.receiver.store.records import EventFilter
from vidhook.receiver.suggestions import unknown_name

__all__ = [
    "OpenedStore",
    "check_names",
    "connected",
    "filter_from_args",
    "label_pairs",
    "logs_to_stderr",
    "store_opened",
]


def label_pairs(items: Iterable[str] | None) -> dict[str, str]:
    """Labels written `key=value` (the one spelling every command takes)."""
    labels: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise BadRequest(f"--label {item!r}: write it as KEY=VALUE, e.g. team=growth")
        labels[key] = value
    return labels


def filter_from_args(args: argparse.Namespace, now: float) -> EventFilter:
    """The EventFilter the filter options describe."""
    return build_filter(
        now=now,
        since=args.since,
        until=args.until,
        labels=label_pairs(args.label),
        cursor=getattr(args, "cursor", None),
        source=args.source,
        provider=args.provider,
        type=args.event_type,
        status=args.status,
        task_id=args.task_id,
        model=args.model,
        sink=args.sink,
    )


@dataclass
class OpenedStore:
    """The configured store, open, with the settings that name its sources and sinks."""

    settings: Settings
    store: Store
    clock: Callable[[], float] = time.time
    sink_types: dict[str, str | None] = field(init=False)

    def __post_init__(self) -> None:
        self.sink_types = {
            name: str(table["type"]) if "type" in table else None
            for name, table in self.settings.sinks.items()
        }


def check_names(args: argparse.Namespace, opened: OpenedStore | Services) -> None:
    """Refuse a --source, --provider or --sink no config knows, with the known names: a typo
    should not look like an empty result."""
    source = getattr(args, "source", None)
    if source and source not in opened.settings.sources:
        raise unknown_name("source", source, opened.settings.sources)
    provider = getattr(args, "provider", None)
    if provider and provider not in PROVIDER_NAMES:
        raise unknown_name("provider", provider, PROVIDER_NAMES)
    sink = getattr(args, "sink", None)
    known = opened.sink_types if isinstance(opened, OpenedStore) else opened.sinks
    if sink and sink not in known:
        raise unknown_name("sink", sink, known)


class _CurrentStderr:
    """Writes to whatever `sys.stderr` is when a line is logged."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def logs_to_stderr() -> None:
    """Send log lines to stderr, so stdout carries only the command's output (`--json`)."""
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(cast(TextIO, _CurrentStderr())))


@asynccontextmanager
async def connected(args: argparse.Namespace) -> AsyncIterator[Services]:
    """The configured services with their store open, closed again on the way out.

    The store is the one the server uses; SQLite's WAL lets both work on it at once.
    """
    logs_to_stderr()
    settings, _ = await resolve_settings(args)
    path = config_path(args)
    if path:
        require_store(settings.store.url, path)
    services = build_services(settings, config_path=path)
    try:
        await services.store.open()
    except VidhookError:
        await services.http.aclose()
        raise
    except OSError as exc:
        await services.http.aclose()
        raise Unreachable(f"cannot open the store {services.store.url}: {exc}") from None
    try:
        yield services
    finally:
        await services.store.close()
        await services.http.aclose()


@asynccontextmanager
async def store_opened(args: argparse.Namespace) -> AsyncIterator[OpenedStore]:
    """The configured store, open, closed again on the way out; nothing else of the service
    is built (no sinks, rules, HTTP client or loops).

    The store is the one the server uses; SQLite's WAL lets both work on it at once.
    """
    logs_to_stderr()
    settings, _ = await resolve_settings(args)
    path = config_path(args)
    if path:
        require_store(settings.store.url, path)
    store = open_configured_store(settings, path)
    try:
        await store.open()
    except OSError as exc:
        raise Unreachable(f"cannot open the store {store.url}: {exc}") from None
    try:
        yield OpenedStore(settings, store)
    finally:
        await store.close()
