"""`vidhook usage`: tasks, outcomes, credits and estimated cost per group, from the store."""

from __future__ import annotations

import argparse
import asyncio
import csv
import sys
from typing import Any

from vidhook.receiver.cli.connect import store_opened
from vidhook.receiver.cli.render import Column, emit_json, print_table
from vidhook.receiver.usage import UsageReport, parse_group_by, usage_range, usage_report

__all__ = ["run_usage", "usage_table"]

_FIGURES = ("tasks", "completed", "failed", "credits", "estimated", "cost", "unpriced")


def usage_table(report: UsageReport) -> tuple[list[Column], list[list[Any]]]:
    """The report as table columns and rows: one column per group key, then the figures."""
    unit = report.unit
    money = f"cost ({report.currency})" if report.currency else None
    names = [
        "tasks", "completed", "failed", "credits", f"estimated ({unit})", money, "unpriced",
    ]  # fmt: skip
    shown = [i for i, name in enumerate(names) if name is not None]
    columns = [Column(key.removeprefix("labels.")) for key in report.group_by or ["all"]]
    columns += [Column(str(names[i]), drop=3 if names[i] == "unpriced" else 0) for i in shown]
    rows = []
    for group in report.groups:
        keys = [_cell(v) for v in group.group.values()] if report.group_by else ["all"]
        figures = [_number(getattr(group, _FIGURES[i])) for i in shown]
        rows.append([*keys, *figures])
    return columns, rows


def run_usage(args: argparse.Namespace) -> int:
    """Print usage per group: a table, JSON lines (`--json`) or CSV (`--csv`)."""
    group_by = parse_group_by(",".join(args.by or []), bare_labels=True)

    async def work() -> UsageReport:
        async with store_opened(args) as opened:
            since, until = usage_range(args.since, args.until, opened.clock())
            pricing = opened.settings.pricing
            return await usage_report(
                opened.store, pricing, since=since, until=until, group_by=group_by
            )

    report = asyncio.run(work())
    if args.json:
        emit_json(report.groups)
        return 0
    columns, rows = usage_table(report)
    if args.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow([c.name for c in columns])
        writer.writerows(["" if cell is None else cell for cell in row] for row in rows)
        return 0
    title = f"usage {report.since} .. {report.until}"
    print_table(title, columns, rows, empty="no usage in this range")
    return 0


def _cell(value: str | None) -> str:
    return "(none)" if value is None else value


def _number(value: float | int | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".") if value % 1 else f"{value:.0f}"
    return str(value)
