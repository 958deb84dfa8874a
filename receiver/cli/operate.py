"""`vidhook events`, `show`, `deliveries`, `retry`, `sinks` and `rejected`: the admin API's
views and actions, on the configured store or (the read commands) a running vidhook."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from collections.abc import Iterable
from typing import Any

from vidhook.receiver.admin.schemas import EventDetail, SinkView
from vidhook.receiver.cli.connect import check_names, store_opened
from vidhook.receiver.cli.reading import reader
from vidhook.receiver.cli.render import Column, emit_json, print_table
from vidhook.receiver.errors import BadRequest
from vidhook.receiver.id_prefix import resolve_delivery_id
from vidhook.receiver.retry import retry_dead, retry_delivery
from vidhook.receiver.sink_control import pause_sink, resume_sink
from vidhook.receiver.store.records import DeliveryRow, StoredEvent

__all__ = ["DELIVERY_COLUMNS", "EVENT_COLUMNS", "delivery_rows", "event_rows", "field_rows"]

EVENT_COLUMNS = (
    Column("id", "id"), Column("received", "time", 3), Column("source", drop=4),
    Column("type"), Column("status", drop=2), Column("task id", drop=5),
    Column("model", drop=6), Column("flags", drop=1),
)  # fmt: skip
DELIVERY_COLUMNS = (
    Column("id", "id"), Column("event", "id", 5), Column("sink"), Column("state"),
    Column("replay", drop=6), Column("tries", drop=3), Column("updated", "time", 4),
    Column("last error", drop=2),
)  # fmt: skip


def event_rows(items: Iterable[StoredEvent]) -> list[list[Any]]:
    """Table rows for events: id, received, source, type, status, task id, model, flags."""
    rows = []
    for stored in items:
        event = stored.event
        flags = ", ".join(f for f, on in (("stale", stored.stale), ("held", stored.held)) if on)
        rows.append(
            [
                event.id, event.received_at, event.source, event.type, event.status,
                event.task_id, event.model, flags or None,
            ]
        )  # fmt: skip
    return rows


def delivery_rows(items: Iterable[DeliveryRow]) -> list[list[Any]]:
    """Table rows for deliveries."""
    return [
        [
            row.id, row.event_id, row.sink, row.state, "yes" if row.replay else "",
            row.attempts, row.updated_at, row.last_error,
        ]
        for row in items
    ]  # fmt: skip


def field_rows(value: Any) -> list[tuple[str, str]]:
    """(field, value) rows of a Struct, empty fields left out, lists and maps on one line."""
    import msgspec

    rows = []
    for key, item in msgspec.to_builtins(value).items():
        if item in (None, [], {}):
            continue
        if isinstance(item, list):
            item = ", ".join(map(str, item))
        elif isinstance(item, dict):
            item = ", ".join(f"{k}={v}" for k, v in item.items())
        rows.append((key, str(item)))
    return rows


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= 10_000:
        raise BadRequest(f"--limit must be between 1 and 10000, not {limit}")


def _print_next(cursor: str | None) -> None:
    """The next page's cursor, on stderr so that stdout holds only rows (or JSON lines)."""
    if cursor:
        print(f"more: add --cursor {cursor}", file=sys.stderr)


def run_events(args: argparse.Namespace) -> int:
    """List events matching the filters."""
    _check_limit(args.limit)

    async def work() -> Any:
        async with reader(args) as source:
            return await source.events(args, args.limit)

    page = asyncio.run(work())
    if args.json:
        emit_json(page.items)
    else:
        print_table("events", EVENT_COLUMNS, event_rows(page.items), empty="no events match")
    _print_next(page.next_cursor)
    return 0


def run_show(args: argparse.Namespace) -> int:
    """Show one event: fields, raw request, deliveries and attempts."""

    async def work() -> EventDetail:
        async with reader(args) as source:
            return await source.detail(args.event_id)

    detail = asyncio.run(work())
    if args.json:
        emit_json([detail])
        return 0
    pair = (Column("field"), Column("value", "wrap"))
    print_table(f"event {detail.event.id}", pair, field_rows(detail.event))
    if detail.raw is not None:
        raw = detail.raw
        request = [("request", f"{raw.method} {raw.path} from {raw.client}")]
        print_table("raw request", pair, [*request, *raw.headers.items(), ("body", raw.body)])
    print_table("deliveries", DELIVERY_COLUMNS, delivery_rows(detail.deliveries))
    attempts = [
        (a.delivery_id, a.number, a.at, a.outcome, a.status_code, f"{a.latency_ms:.0f} ms", a.error)
        for a in detail.attempts
    ]
    columns = (
        Column("delivery", "id"), Column("#"), Column("at", "time", 2), Column("outcome"),
        Column("status"), Column("latency", drop=3), Column("error", drop=1),
    )  # fmt: skip
    print_table("attempts", columns, attempts, empty="no attempts yet")
    return 0


def run_deliveries(args: argparse.Namespace) -> int:
    """List deliveries by state and sink."""
    _check_limit(args.limit)

    async def work() -> Any:
        async with reader(args) as source:
            return await source.deliveries(args, args.limit)

    page = asyncio.run(work())
    if args.json:
        emit_json(page.items)
    else:
        rows = delivery_rows(page.items)
        print_table("deliveries", DELIVERY_COLUMNS, rows, empty="no deliveries match")
    _print_next(page.next_cursor)
    return 0


def run_retry(args: argparse.Namespace) -> int:
    """Retry the named deliveries, or with --dead every dead one (of --sink)."""
    if bool(args.delivery_ids) == args.dead:
        raise BadRequest("name delivery ids to retry, or use --dead [--sink SINK]; not both")
    if args.sink and not args.dead:
        raise BadRequest("--sink goes with --dead")

    async def work() -> Any:
        async with store_opened(args) as opened:
            check_names(args, opened)
            known, clock, store = opened.sink_types, opened.clock, opened.store
            if args.dead:
                return await retry_dead(store, known, clock, args.sink)
            ids = [await resolve_delivery_id(store, text) for text in args.delivery_ids]
            return [await retry_delivery(store, known, clock, i) for i in ids]

    done = asyncio.run(work())
    if args.json:
        emit_json(
            [{"sink": s, "retried": n} for s, n in sorted(done.items())] if args.dead else done
        )
    elif args.dead:
        columns = (Column("sink"), Column("retried"))
        print_table("retried dead deliveries", columns, sorted(done.items()))
    else:
        print_table("retried", DELIVERY_COLUMNS, delivery_rows(done))
    return 0


def run_sinks(args: argparse.Namespace) -> int:
    """Each sink's pending, dead and delivered counts, latest outcomes and state; with
    `pause NAME` or `resume NAME`, change that sink's state on the configured store first."""
    if args.action and not args.sink:
        raise BadRequest(f"name the sink to {args.action}: vidhook sinks {args.action} SINK")
    if args.sink and not args.action:
        raise BadRequest(f"say what to do with {args.sink}: vidhook sinks pause|resume SINK")
    if args.action and (args.url or os.environ.get("VIDHOOK_URL")):
        raise BadRequest(
            f"sinks {args.action} works on the configured store; over HTTP use"
            f" POST /admin/sinks/{args.sink}/{args.action}"
        )

    async def work() -> Any:
        if args.action:
            await change_sink(args)
        async with reader(args) as source:
            return await source.sinks()

    rows = asyncio.run(work()).items
    if args.action:
        rows = [row for row in rows if row.name == args.sink]
    if args.json:
        emit_json(rows)
        return 0
    columns = (
        Column("sink"), Column("state"), Column("pending"), Column("dead", drop=5),
        Column("delivered", drop=3), Column("last success", "time", 2),
        Column("last failure", "time", 4), Column("error", drop=1),
    )  # fmt: skip
    keys = ("name", "pending", "dead", "delivered", "last_success", "last_failure", "last_error")
    table = [[row.name, _state(row), *(getattr(row, key) for key in keys[1:])] for row in rows]
    print_table("sinks", columns, table, empty="no sinks configured or on record")
    return 0


def _state(row: SinkView) -> str:
    if row.state == "active":
        return "active" if not row.consecutive_failures else f"active ({row.consecutive_failures}x)"
    return f"paused ({'by hand' if row.paused_by == 'hand' else 'probing'})"


async def change_sink(args: argparse.Namespace) -> None:
    """Pause or resume `args.sink` on the configured store, as `cli:USER`."""
    async with store_opened(args) as opened:
        change = pause_sink if args.action == "pause" else resume_sink
        actor = f"cli:{getpass.getuser()}"
        await change(opened.store, opened.sink_types, opened.clock, args.sink, actor)


def run_rejected(args: argparse.Namespace) -> int:
    """The newest refused callbacks."""
    _check_limit(args.limit)

    async def work() -> Any:
        async with reader(args) as source:
            return await source.rejected(args.limit)

    rows = asyncio.run(work()).items
    if args.json:
        emit_json(rows)
        return 0
    columns = (
        Column("at", "time"), Column("source", drop=3), Column("status"), Column("reason"),
        Column("message", drop=1), Column("client", drop=2), Column("size", drop=4),
    )  # fmt: skip
    table = [(r.at, r.source, r.status, r.reason, r.message, r.client, r.size) for r in rows]
    print_table("rejected requests", columns, table, empty="no rejected requests")
    return 0
