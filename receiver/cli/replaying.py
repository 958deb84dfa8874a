"""`vidhook replay`: one event by id, or every event a filter matches, with a progress bar."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from vidhook.receiver.cli.connect import (
    add_common,
    add_filter_arguments,
    connected,
    filter_from_args,
)
from vidhook.receiver.cli.render import (
    DELIVERY_COLUMNS,
    console,
    delivery_rows,
    print_json,
    print_table,
)
from vidhook.receiver.errors import BadRequest
from vidhook.receiver.replay import Replayer, ReplayResult
from vidhook.receiver.store.records import EventFilter

__all__ = ["register"]


def register(commands: Any) -> None:
    """Add `replay`."""
    replay = commands.add_parser(
        "replay",
        help="send stored events again (through the current rules, or to --sink)",
        description="Replay one event by ID, or every event the filters match. Replayed "
        "deliveries are marked as replays and carry new webhook ids.",
    )
    add_common(replay)
    replay.add_argument("event_id", nargs="?", metavar="ID", help="one event to replay")
    add_filter_arguments(replay, sink_flag="--routed-to")
    replay.add_argument(
        "--sink", action="append", dest="sinks", metavar="SINK",
        help="send to this sink instead of the current rules' choice (repeatable)",
    )  # fmt: skip
    replay.add_argument("--dry-run", action="store_true", help="only count what would be sent")
    replay.add_argument("--all", action="store_true", help="with no filter: every event")
    replay.add_argument(
        "--max-events", type=int, metavar="N",
        help="refuse to replay more than N events (default: server.max_replay_events)",
    )  # fmt: skip
    replay.set_defaults(run=run_replay)


def run_replay(args: argparse.Namespace) -> int:
    """Replay one event or a filter's events; print what was (or would be) sent."""

    async def work() -> Any:
        async with connected(args) as services:
            cap = args.max_events or services.settings.server.max_replay_events
            replayer = Replayer(services.store, services.rules, services.sinks, services.clock, cap)
            where = filter_from_args(args, services.clock())
            if args.event_id:
                _check_single(args, where)
                return await replayer.replay_event(args.event_id, args.sinks)
            if where == EventFilter() and not args.all:
                raise BadRequest("give an event ID or a filter (e.g. --since 1h), or --all")
            return await _replay_with_progress(replayer, where, args)

    outcome = asyncio.run(work())
    if isinstance(outcome, ReplayResult):
        _print_result(outcome, args.json)
    elif args.json:
        print_json({"event_id": args.event_id, "deliveries": outcome})
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
    out = console(stderr=True)
    columns = (
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
    )  # fmt: skip
    with Progress(*columns, console=out, transient=True, disable=not out.is_terminal) as bar:
        task = bar.add_task("counting" if args.dry_run else "replaying", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        return await replayer.replay(where, args.sinks, dry_run=args.dry_run, progress=progress)


def _print_result(result: ReplayResult, as_json: bool) -> None:
    if as_json:
        print_json(result)
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
    print_table("by sink", ("sink", "deliveries"), sorted(result.by_sink.items()))
