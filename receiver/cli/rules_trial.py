"""`vidhook rules test FILE --since 7d`: a dry run of new rules against stored events.

For each rule of FILE: which stored events it would have matched and which sinks would have
fired (`vidhook.receiver.rules_trial`, as the dashboard's rules page). Nothing is sent.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from vidhook.receiver.cli.connect import check_names, filter_from_args, store_opened
from vidhook.receiver.cli.render import Column, emit_json, print_table
from vidhook.receiver.errors import ConfigError
from vidhook.receiver.event import Event
from vidhook.receiver.rules_trial import RuleReport, rules_from_text, stored_for_trial, trial_rules
from vidhook.routes.rules import RuleSet

__all__ = ["RuleReport", "run_rules_test", "trial_rules"]


def load_rule_file(path: str, known_sinks: set[str]) -> RuleSet:
    """The rules of one file, checked against the configured sinks."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    return rules_from_text(text, path, known_sinks)


def run_rules_test(args: argparse.Namespace) -> int:
    """Test FILE's rules against the stored events the filters pick (default: the last 7 days)."""

    async def work() -> tuple[list[Event], RuleSet]:
        async with store_opened(args) as services:
            check_names(args, services)
            rules = load_rule_file(args.file, set(services.sink_types))
            where = filter_from_args(args, services.clock())
            hint = "narrow --since or raise --max-events"
            events = await stored_for_trial(services.store, where, args.max_events, hint=hint)
            return events, rules

    events, rules = asyncio.run(work())
    reports, unrouted = trial_rules(rules, events, max(args.show, 0))
    if args.json:
        emit_json([{"events": len(events), "unrouted": unrouted, "rules": reports}])
        return 0
    print(f"{len(events)} stored events tested against {len(rules)} rules from {args.file}")
    _print_reports(reports)
    print(f"{unrouted} events would go to no sink")
    return 0


def _print_reports(reports: list[RuleReport]) -> None:
    summary = [
        (r.name, r.matched, ", ".join(f"{s} x{n}" for s, n in r.sinks.items()) or "-")
        for r in reports
    ]
    head = (Column("rule"), Column("matched"), Column("sinks that would fire"))
    print_table("rules", head, summary)
    columns = (
        Column("event", "id"), Column("received", "time", 3), Column("source", drop=4),
        Column("type"), Column("status", drop=2), Column("task id", drop=5), Column("sinks"),
    )  # fmt: skip
    for report in reports:
        if not report.events:
            continue
        rows = [
            (e.id, e.received_at, e.source, e.type, e.status, e.task_id, ", ".join(e.sinks))
            for e in report.events
        ]
        more = report.matched - len(report.events)
        title = f"{report.name}: matched" + (f" (first {len(rows)}, {more} more)" if more else "")
        print_table(title, columns, rows)
