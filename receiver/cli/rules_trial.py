"""`vidhook rules test FILE --since 7d`: a dry run of new rules against stored events.

For each rule of FILE: which stored events it would have matched and which sinks would have
fired, with the same matching, `stop` and sink dedupe as live routing. Nothing is sent.
"""

from __future__ import annotations

import argparse
import asyncio
from collections import Counter
from pathlib import Path

import msgspec

from vidhook.receiver.cli.connect import check_names, filter_from_args, store_opened
from vidhook.receiver.cli.render import Column, emit_json, print_table
from vidhook.receiver.errors import BadRequest, ConfigError
from vidhook.receiver.event import Event
from vidhook.receiver.replay import event_pages
from vidhook.routes.rules import RuleSet, build_rule, parse_rules_text

__all__ = ["RuleReport", "run_rules_test", "trial_rules"]


class MatchedEvent(msgspec.Struct, kw_only=True):
    """An event a rule matched, and the sinks that rule would have sent it to."""

    id: str
    received_at: str
    source: str
    type: str
    status: str
    task_id: str
    sinks: list[str]


class RuleReport(msgspec.Struct, kw_only=True):
    """What one rule would have done over the events tested."""

    name: str
    matched: int
    sinks: dict[str, int]
    events: list[MatchedEvent]


def load_rule_file(path: str, known_sinks: set[str]) -> RuleSet:
    """The rules of one file, checked against the configured sinks."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    rules = [
        build_rule(config, origin=path, known_sinks=known_sinks)
        for config in parse_rules_text(text, origin=path)
    ]
    names = [rule.name for rule in rules]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise ConfigError(f'{path}: rule "{twice[0]}": duplicate name')
    return RuleSet(tuple(rules))


def trial_rules(rules: RuleSet, events: list[Event], show: int) -> tuple[list[RuleReport], int]:
    """Each rule's report over the events, and how many events no rule would send anywhere."""
    reports = {
        rule.name: RuleReport(name=rule.name, matched=0, sinks={}, events=[])
        for rule in rules.rules
    }
    fired: dict[str, Counter[str]] = {name: Counter() for name in reports}
    unrouted = 0
    for event in events:
        pairs = rules.route(event)
        unrouted += not pairs
        for rule in rules.matched(event):
            report = reports[rule.name]
            sinks = [sink for name, sink in pairs if name == rule.name]
            fired[rule.name].update(sinks)
            report.matched += 1
            if len(report.events) < show:
                report.events.append(
                    MatchedEvent(
                        id=event.id, received_at=event.received_at, source=event.source,
                        type=event.type, status=event.status, task_id=event.task_id, sinks=sinks,
                    )
                )  # fmt: skip
    for name, counts in fired.items():
        reports[name].sinks = dict(sorted(counts.items()))
    return list(reports.values()), unrouted


def run_rules_test(args: argparse.Namespace) -> int:
    """Test FILE's rules against the stored events the filters pick (default: the last 7 days)."""

    async def work() -> tuple[list[Event], RuleSet]:
        async with store_opened(args) as services:
            check_names(args, services)
            rules = load_rule_file(args.file, set(services.sink_types))
            where = filter_from_args(args, services.clock())
            total = await services.store.count_events(where)
            if total > args.max_events:
                raise BadRequest(
                    f"{total} events match, more than --max-events {args.max_events};"
                    " narrow --since or raise --max-events"
                )
            events = [
                stored.event
                async for page in event_pages(services.store, where, total)
                for stored in page
                if not stored.stale
            ]
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
