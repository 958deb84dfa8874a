"""What the operating commands share: the configured store opened directly, and event filters
read from the command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import TextIO, cast

import structlog

from vidhook.receiver.app import build_services
from vidhook.receiver.cli.config_source import config_path, require_store, resolve_settings
from vidhook.receiver.errors import BadRequest, Unreachable, VidhookError
from vidhook.receiver.event_filter import build_filter
from vidhook.receiver.providers import PROVIDER_NAMES
from vidhook.receiver.services import Services
from vidhook.receiver.store.records import EventFilter
from vidhook.receiver.suggestions import unknown_name

__all__ = [
    "check_names",
    "connected",
    "filter_from_args",
    "label_pairs",
    "logs_to_stderr",
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


def check_names(args: argparse.Namespace, services: Services) -> None:
    """Refuse a --source, --provider or --sink no config knows, with the known names: a typo
    should not look like an empty result."""
    source = getattr(args, "source", None)
    if source and source not in services.settings.sources:
        raise unknown_name("source", source, services.settings.sources)
    provider = getattr(args, "provider", None)
    if provider and provider not in PROVIDER_NAMES:
        raise unknown_name("provider", provider, PROVIDER_NAMES)
    sink = getattr(args, "sink", None)
    if sink and sink not in services.sinks:
        raise unknown_name("sink", sink, services.sinks)


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
