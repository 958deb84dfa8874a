"""`vidhook replay`: one event by id, or every event a filter matches, with a progress bar."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from vidhook.receiver.cli.connect import check_names, connected, filter_from_args
from vidhook.receiver.cli.operate import DELIVERY_COLUMNS, delivery_rows
from vidhook.receiver.cli.render import Column, emit_json, print_table
from vidhook.receiver.errors import BadRequest
from vidhook.receiver.id_prefix import resolve_event_id
from vidhook.receiver.replay import Replayer, ReplayResult
from vidhook.receiver.store.records import EventFilter
from vidhook.receiver.suggestions import unknown_name

__all__ = ["run_replay"]


def run_replay(args: argparse.Namespace) -> int:
    """Replay one event or a filter's events; print what was (or would be) sent."""

    async def work() -> Any:
        async with connected(args) as services:
            cap = args.max_events or services.settings.server.max_replay_events
            links = None if services.archive is None else services.archive.links
            replayer = Replayer(
                services.store, services.rules, services.sinks, services.clock, cap, links
            )
            check_names(args, services)
            for sink in args.to_sinks or []:
                if sink not in services.sinks:
                    raise unknown_name("sink", sink, services.sinks)
            where = filter_from_args(args, services.clock())
            if args.event_id:
                _check_single(args, where)
                event_id = await resolve_event_id(services.store, args.event_id)
                return await replayer.replay_event(event_id, args.to_sinks)
            if where == EventFilter() and not args.all:
                raise BadRequest("give an event ID or a filter (e.g. --since 1h), or --all")
            return await _replay_with_progress(replayer, where, args)

    outcome = asyncio.run(work())
    if isinstance(outcome, ReplayResult):
        _print_result(outcome, args.json)
    elif args.json:
        emit_json(outcome)
    else:
        rows = delivery_rows(outcome)
        print_table("replayed", DELIVERY_COLUMNS, rows, empty="no rule routes this event anywhere")
    return 0


def _check_single(args: argparse.Namespace, where: EventFilter) -> None:
    if where != EventFilter() or args.all or args.dry_run:
        raise BadRequest("replay ID takes no filters, --all or --dry-run; drop the ID to filter")


async def _replay_with_progress(
    replayer: Replayer, where: EventFilter, args: argparse.Namespace
) -> ReplayResult:
    out = Console(file=sys.stderr)
    columns = (
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
    )  # fmt: skip
    with Progress(*columns, console=out, transient=True, disable=not out.is_terminal) as bar:
        task = bar.add_task("counting" if args.dry_run else "replaying", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        return await replayer.replay(where, args.to_sinks, dry_run=args.dry_run, progress=progress)


def _print_result(result: ReplayResult, as_json: bool) -> None:
    if as_json:
        emit_json([result])
        return
    verb = "would make" if result.dry_run else "made"
    print(f"{result.events} events: {verb} {result.deliveries} deliveries")
    skipped = [
        ("held", result.skipped_held),
        ("rejected", result.skipped_rejected),
        ("stale", result.skipped_stale),
    ]
    for reason, count in skipped:
        if count:
            print(f"skipped {count} {reason} events")
    columns = (Column("sink"), Column("deliveries"))
    print_table("by sink", columns, sorted(result.by_sink.items()))
