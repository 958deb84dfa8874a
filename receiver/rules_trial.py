"""Trying rules against stored events: which events each rule would have matched and which
sinks would have fired, with the same matching, `stop` and sink dedupe as live routing. Nothing
is sent. `vidhook rules test` and the dashboard's rules page both run it.
"""

from __future__ import annotations

from collections import Counter

import msgspec

from vidhook.receiver.errors import BadRequest, ConfigError
from vidhook.receiver.event import Event
from vidhook.receiver.replay import event_pages
from vidhook.receiver.store import Store
from vidhook.receiver.store.records import EventFilter
from vidhook.routes.rules import RuleSet, build_rule, parse_rules_text

__all__ = ["MatchedEvent", "RuleReport", "rules_from_text", "stored_for_trial", "trial_rules"]


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


def rules_from_text(text: str, origin: str, known_sinks: set[str]) -> RuleSet:
    """The `[[rules]]` of a TOML text, checked against the configured sinks (ConfigError
    naming `origin`, the rule and the field when one does not read)."""
    rules = [
        build_rule(config, origin=origin, known_sinks=known_sinks)
        for config in parse_rules_text(text, origin=origin)
    ]
    names = [rule.name for rule in rules]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise ConfigError(f'{origin}: rule "{twice[0]}": duplicate name')
    return RuleSet(tuple(rules))


async def stored_for_trial(
    store: Store, where: EventFilter, max_events: int, *, hint: str
) -> list[Event]:
    """The stored events `where` picks (stale ones left out), newest first; BadRequest when
    more than `max_events` match (`hint` says how to narrow them)."""
    total = await store.count_events(where)
    if total > max_events:
        raise BadRequest(f"{total} events match, more than {max_events}; {hint}")
    return [
        stored.event
        async for page in event_pages(store, where, total)
        for stored in page
        if not stored.stale
    ]


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
