"""What the operating commands share: the configured store opened directly, and event filters
as command-line options."""

from __future__ import annotations

import argparse
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TextIO, cast

import structlog

from vidhook.receiver.app import build_services
from vidhook.receiver.cli.config_source import add_config_argument, config_path, resolve_settings
from vidhook.receiver.config import PROVIDER_NAMES
from vidhook.receiver.event_filter import build_filter, parse_labels
from vidhook.receiver.services import Services
from vidhook.receiver.store.records import EventFilter

__all__ = [
    "add_common",
    "add_filter_arguments",
    "connected",
    "filter_from_args",
    "logs_to_stderr",
]

EVENT_TYPES = ("task.completed", "task.failed", "task.progress")
STATUSES = ("pending", "processing", "completed", "failed", "cancelled", "expired")


def add_common(parser: argparse.ArgumentParser, *, json: bool = True) -> None:
    """`--config`, and `--json` for commands that print listings."""
    add_config_argument(parser)
    if json:
        parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def add_filter_arguments(parser: argparse.ArgumentParser, *, sink_flag: str = "--sink") -> None:
    """The event filters every event command takes, as in `GET /admin/events`."""
    group = parser.add_argument_group("filters")
    group.add_argument("--since", help="received at or after: RFC 3339 or an age (30m, 12h, 7d)")
    group.add_argument("--until", help="received before: RFC 3339 or an age")
    group.add_argument("--source", help="source name")
    group.add_argument("--provider", choices=PROVIDER_NAMES)
    group.add_argument("--type", choices=EVENT_TYPES, dest="event_type")
    group.add_argument("--status", choices=STATUSES)
    group.add_argument("--task-id")
    group.add_argument("--model")
    group.add_argument(
        "--label", action="append", metavar="KEY:VALUE", help="label filter (repeatable)"
    )
    group.add_argument(sink_flag, dest="routed_to", metavar="SINK", help="events routed to SINK")


def filter_from_args(args: argparse.Namespace, now: float) -> EventFilter:
    """The EventFilter the filter options describe."""
    return build_filter(
        now=now,
        since=args.since,
        until=args.until,
        labels=parse_labels(args.label),
        cursor=getattr(args, "cursor", None),
        source=args.source,
        provider=args.provider,
        type=args.event_type,
        status=args.status,
        task_id=args.task_id,
        model=args.model,
        sink=args.routed_to,
    )


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
    services = build_services(settings, config_path=config_path(args))
    await services.store.open()
    try:
        yield services
    finally:
        await services.store.close()
        await services.http.aclose()
