"""How the operating commands print: rich tables for people, `--json` for programs."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from typing import Any

import msgspec
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from vidhook.receiver.store.records import DeliveryRow, StoredEvent

__all__ = [
    "DELIVERY_COLUMNS",
    "EVENT_COLUMNS",
    "console",
    "delivery_rows",
    "event_rows",
    "field_rows",
    "print_json",
    "print_table",
]

_encoder = msgspec.json.Encoder()


def console(*, stderr: bool = False) -> Console:
    """A console on the current stdout (or stderr); wide when not a terminal, so ids and times
    are not cut when the output is piped."""
    out = Console(file=sys.stderr if stderr else sys.stdout, highlight=False)
    if not out.is_terminal:
        out.width = 200
    return out


def print_json(value: Any) -> None:
    """Print a value as indented JSON."""
    sys.stdout.write(msgspec.json.format(_encoder.encode(value), indent=2).decode() + "\n")


def print_table(
    title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]], *, empty: str = ""
) -> None:
    """Print rows as a table; a message instead when there are none."""
    rows = list(rows)
    out = console()
    if not rows and empty:
        out.print(empty)
        return
    table = Table(title=title, title_justify="left", show_lines=False)
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(escape("-" if cell is None else str(cell)) for cell in row))
    out.print(table)


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


EVENT_COLUMNS = ("id", "received", "source", "type", "status", "task id", "model", "flags")


def delivery_rows(items: Iterable[DeliveryRow]) -> list[list[Any]]:
    """Table rows for deliveries."""
    return [
        [
            row.id, row.event_id, row.sink, row.state, "yes" if row.replay else "",
            row.attempts, row.updated_at, row.last_error,
        ]
        for row in items
    ]  # fmt: skip


DELIVERY_COLUMNS = ("id", "event", "sink", "state", "replay", "attempts", "updated", "last error")


def field_rows(value: Any) -> list[tuple[str, str]]:
    """(field, value) rows of a Struct, empty fields left out, lists and maps on one line."""
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
