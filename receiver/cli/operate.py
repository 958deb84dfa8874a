"""`vidhook events`, `show`, `deliveries`, `retry`, `sinks` and `rejected`: the admin API's
views and actions, run on the configured store directly."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from vidhook.receiver.admin.events import event_detail
from vidhook.receiver.admin.schemas import EventDetail, RejectionView, SinkView
from vidhook.receiver.admin.sinks import sink_views
from vidhook.receiver.cli import replaying, rules_trial, simulating
from vidhook.receiver.cli.connect import (
    add_common,
    add_filter_arguments,
    connected,
    filter_from_args,
)
from vidhook.receiver.cli.render import (
    DELIVERY_COLUMNS,
    EVENT_COLUMNS,
    delivery_rows,
    event_rows,
    field_rows,
    print_json,
    print_table,
)
from vidhook.receiver.errors import BadRequest
from vidhook.receiver.retry import retry_dead, retry_delivery

__all__ = ["register"]

DELIVERY_STATES = ("pending", "held", "delivered", "dead", "rejected")


def register(commands: Any) -> None:
    """Add the operating subcommands (replay, rules test and simulate too)."""
    events = commands.add_parser("events", help="list stored events, newest first")
    add_common(events)
    add_filter_arguments(events)
    _add_paging(events)
    events.set_defaults(run=run_events)

    show = commands.add_parser("show", help="show one event with its raw request and history")
    add_common(show)
    show.add_argument("event_id", metavar="ID")
    show.set_defaults(run=run_show)

    deliveries = commands.add_parser("deliveries", help="list deliveries, newest first")
    add_common(deliveries)
    deliveries.add_argument("--state", choices=DELIVERY_STATES)
    deliveries.add_argument("--sink")
    _add_paging(deliveries)
    deliveries.set_defaults(run=run_deliveries)

    retry = commands.add_parser("retry", help="send dead deliveries again")
    add_common(retry)
    retry.add_argument("delivery_ids", nargs="*", metavar="ID", help="deliveries to retry")
    retry.add_argument("--dead", action="store_true", help="retry every dead delivery")
    retry.add_argument("--sink", help="with --dead: only this sink's")
    retry.set_defaults(run=run_retry)

    sinks = commands.add_parser("sinks", help="each sink's backlog and latest outcomes")
    add_common(sinks)
    sinks.set_defaults(run=run_sinks)

    rejected = commands.add_parser("rejected", help="the newest refused callbacks")
    add_common(rejected)
    rejected.add_argument("--limit", type=int, default=50)
    rejected.set_defaults(run=run_rejected)

    for module in (replaying, rules_trial, simulating):
        module.register(commands)


def _add_paging(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--limit", type=int, default=50, help="page size (default 50)")
    parser.add_argument("--cursor", help="the next-page cursor a previous listing printed")


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= 10_000:
        raise BadRequest(f"--limit must be between 1 and 10000, not {limit}")


def _print_next(cursor: str | None, as_json: bool) -> None:
    if cursor and not as_json:
        print(f"more: add --cursor {cursor}")


def run_events(args: argparse.Namespace) -> int:
    """List events matching the filters."""
    _check_limit(args.limit)

    async def work() -> tuple[list[Any], str | None]:
        async with connected(args) as services:
            rows = await services.store.list_events(
                filter_from_args(args, services.clock()), args.limit + 1
            )
        more = len(rows) > args.limit
        rows = rows[: args.limit]
        return rows, rows[-1].event.id if more else None

    rows, cursor = asyncio.run(work())
    if args.json:
        print_json({"items": rows, "next_cursor": cursor})
    else:
        print_table("events", EVENT_COLUMNS, event_rows(rows), empty="no events match")
        _print_next(cursor, args.json)
    return 0


def run_show(args: argparse.Namespace) -> int:
    """Show one event: fields, raw request, deliveries and attempts."""

    async def work() -> EventDetail:
        async with connected(args) as services:
            return await event_detail(services.store, args.event_id)

    detail = asyncio.run(work())
    if args.json:
        print_json(detail)
        return 0
    print_table(f"event {detail.event.id}", ("field", "value"), field_rows(detail.event))
    if detail.raw is not None:
        raw = detail.raw
        print_table(
            "raw request",
            ("field", "value"),
            [
                ("request", f"{raw.method} {raw.path} from {raw.client}"),
                *raw.headers.items(),
                ("body", raw.body),
            ],
        )
    print_table("deliveries", DELIVERY_COLUMNS, delivery_rows(detail.deliveries), empty="")
    attempts = [
        (a.delivery_id, a.number, a.at, a.outcome, a.status_code, f"{a.latency_ms:.0f} ms", a.error)
        for a in detail.attempts
    ]
    columns = ("delivery", "#", "at", "outcome", "status", "latency", "error")
    print_table("attempts", columns, attempts, empty="no attempts yet")
    return 0


def run_deliveries(args: argparse.Namespace) -> int:
    """List deliveries by state and sink."""
    _check_limit(args.limit)

    async def work() -> list[Any]:
        async with connected(args) as services:
            return await services.store.list_deliveries(
                args.state, args.sink, args.cursor, args.limit + 1
            )

    rows = asyncio.run(work())
    cursor = rows[args.limit - 1].id if len(rows) > args.limit else None
    rows = rows[: args.limit]
    if args.json:
        print_json({"items": rows, "next_cursor": cursor})
    else:
        rendered = delivery_rows(rows)
        print_table("deliveries", DELIVERY_COLUMNS, rendered, empty="no deliveries match")
        _print_next(cursor, args.json)
    return 0


def run_retry(args: argparse.Namespace) -> int:
    """Retry the named deliveries, or with --dead every dead one (of --sink)."""
    if bool(args.delivery_ids) == args.dead:
        raise BadRequest("name delivery ids to retry, or use --dead [--sink SINK]; not both")
    if args.sink and not args.dead:
        raise BadRequest("--sink goes with --dead")

    async def work() -> Any:
        async with connected(args) as services:
            known, clock = services.sinks, services.clock
            if args.dead:
                return await retry_dead(services.store, known, clock, args.sink)
            return [
                await retry_delivery(services.store, known, clock, i) for i in args.delivery_ids
            ]

    done = asyncio.run(work())
    if args.json:
        print_json({"retried": done})
    elif args.dead:
        print_table("retried dead deliveries", ("sink", "retried"), sorted(done.items()))
    else:
        print_table("retried", DELIVERY_COLUMNS, delivery_rows(done))
    return 0


def run_sinks(args: argparse.Namespace) -> int:
    """Each sink's pending, dead and delivered counts and latest outcomes."""

    async def work() -> list[SinkView]:
        async with connected(args) as services:
            return await sink_views(services)

    rows = asyncio.run(work())
    if args.json:
        print_json({"items": rows})
        return 0
    columns = ("sink", "pending", "dead", "delivered", "last success", "last failure", "error")
    keys = ("name", "pending", "dead", "delivered", "last_success", "last_failure", "last_error")
    table = [[getattr(row, key) for key in keys] for row in rows]
    print_table("sinks", columns, table, empty="no sinks configured or on record")
    return 0


def run_rejected(args: argparse.Namespace) -> int:
    """The newest refused callbacks."""
    _check_limit(args.limit)

    async def work() -> list[RejectionView]:
        async with connected(args) as services:
            rows = await services.store.list_rejected(args.limit)
        return [RejectionView.of(row) for row in rows]

    rows = asyncio.run(work())
    if args.json:
        print_json({"items": rows})
        return 0
    columns = ("at", "source", "status", "reason", "message", "client", "size")
    table = [(r.at, r.source, r.status, r.reason, r.message, r.client, r.size) for r in rows]
    print_table("rejected requests", columns, table, empty="no rejected requests")
    return 0
