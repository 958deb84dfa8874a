"""`vidhook digest run NAME [--dry-run]`: compute a digest now and print what it sends."""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import datetime
from typing import Any

from vidhook.receiver.cli.connect import connected
from vidhook.receiver.cli.render import Column, emit_json, print_table
from vidhook.receiver.digest_loop import run_digest_now
from vidhook.receiver.digest_report import DigestReport
from vidhook.receiver.event_filter import parse_moment
from vidhook.receiver.suggestions import unknown_name
from vidhook.routes.digest_render import digest_email, digest_json, digest_slack

__all__ = ["digest_messages", "run_digest"]


def digest_messages(report: DigestReport, sink_types: dict[str, str]) -> list[tuple[str, str]]:
    """(sink, message) for each sink: what each sink type sends for the digest."""
    shown = []
    for sink, kind in sink_types.items():
        if kind == "slack":
            text = json.dumps(digest_slack(report), indent=2, ensure_ascii=False)
        elif kind == "email":
            subject, body, _ = digest_email(report)
            text = f"Subject: {subject}\n\n{body}"
        else:
            text = json.dumps(json.loads(digest_json(report)), indent=2, ensure_ascii=False)
        shown.append((f"{sink} ({kind})", text))
    return shown


def run_digest(args: argparse.Namespace) -> int:
    """Compute the digest for [its last run (or --since), now) and print it; without
    --dry-run also record it and queue one delivery per sink, as the schedule does."""

    async def work() -> tuple[DigestReport, str | None, dict[str, str]]:
        async with connected(args) as services:
            names = {p.config.name: p for p in services.digests.digests}
            planned = names.get(args.name)
            if planned is None:
                raise unknown_name("digest", args.name, names)
            now = services.clock()
            since = datetime.fromisoformat(parse_moment(args.since, now, name="--since"))
            report, digest_id = await run_digest_now(
                services.store, planned, services.settings.pricing, now=now,
                default_since=since.timestamp(), send=not args.dry_run,
            )  # fmt: skip
            types = {s: str(services.settings.sinks[s].get("type")) for s in planned.config.sinks}
            return report, digest_id, types

    report, digest_id, types = asyncio.run(work())
    if args.json:
        emit_json([report])
        return 0
    _print_report(report)
    for sink, message in digest_messages(report, types):
        print(f"\n--- {sink}\n{message}")
    if args.dry_run:
        print("\ndry run: nothing was sent")
    elif digest_id is None:
        print("\nnothing queued: no event in the period, or another instance ran it")
    else:
        print(f"\nqueued digest {digest_id} for {', '.join(types)}")
    return 0


def _print_report(report: DigestReport) -> None:
    keys = [Column(k.removeprefix("labels.")) for k in report.group_by]
    figures = ("tasks", "completed", "failed", "failure", "p50 s", "p95 s", "credits", "estimated")
    rows: list[list[Any]] = []
    for g in report.groups:
        rows.append([
            *g.group.values(), g.tasks, g.completed, g.failed, f"{g.failure_rate:.0%}",
            g.p50_seconds, g.p95_seconds, g.credits, g.estimated,
        ])  # fmt: skip
    title = f"digest {report.name}: {report.since} .. {report.until}"
    print_table(title, [*keys, *map(Column, figures)], rows, empty="no tasks in this period")
