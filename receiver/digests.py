"""Digests' figures: per group of the events received in a period, the tasks and how they went.

A digest reads the period's events (stale, held and rejected reports left out), keeps those its
`when` filter matches, and per group counts: tasks (distinct tasks reported), completed and
failed (final reports; cancelled and expired are failed), the failure rate (failed over
finished), the five most frequent error messages, the generation time (finished_at -
created_at) at p50 and p95 (nearest rank), reported credits, and the estimated cost as usage
computes it (`usage`, `pricing`).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

import msgspec

from vidhook.receiver.digest_config import DigestConfig
from vidhook.receiver.digest_report import DigestGroup, DigestReport, ErrorCount
from vidhook.receiver.event import Event, field_text
from vidhook.receiver.pricing import PricingConfig, price_of
from vidhook.receiver.store.records import EventFilter
from vidhook.receiver.store.store_reads import StoreReads
from vidhook.receiver.store.usage_columns import generation_seconds

__all__ = ["Matcher", "compute_digest", "percentile"]

# Whether an event (its builtins form) belongs in the digest: the compiled `when` filter.
Matcher = Callable[[Mapping[str, Any]], bool]

_PAGE = 1000
_FAILED = ("failed", "cancelled", "expired")


def percentile(values: list[float], share: float) -> float | None:
    """The nearest-rank percentile (`share` in 0..100) of `values`; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share / 100 * len(ordered)) - 1)]


class _Group:
    """A group's running figures while the period's events are read."""

    def __init__(self) -> None:
        self.tasks: set[tuple[str, str]] = set()
        self.completed = self.failed = 0
        self.errors: Counter[str] = Counter()
        self.times: list[float] = []
        self.credits = self.estimated = 0.0

    def add(self, event: Event, pricing: PricingConfig) -> None:
        self.tasks.add((event.source, event.task_id))
        if event.status not in ("completed", *_FAILED):
            return
        seconds = generation_seconds(event)
        if seconds is not None:
            self.times.append(seconds)
        reported = event.credits.reserved if event.credits else None
        if reported is not None and not (event.credits and event.credits.refunded):
            self.credits += reported
            self.estimated += reported
        if event.status == "completed":
            self.completed += 1
            if reported is None:
                self.estimated += _price(event, pricing)
        else:
            self.failed += 1
            self.errors[event.error.message if event.error else "(no message)"] += 1

    def result(self, group: dict[str, str], pricing: PricingConfig) -> DigestGroup:
        finished = self.completed + self.failed
        price = pricing.unit_price
        return DigestGroup(
            group=group,
            tasks=len(self.tasks),
            completed=self.completed,
            failed=self.failed,
            failure_rate=round(self.failed / finished, 4) if finished else 0.0,
            top_errors=[ErrorCount(message=m, count=n) for m, n in self.errors.most_common(5)],
            p50_seconds=percentile(self.times, 50),
            p95_seconds=percentile(self.times, 95),
            credits=round(self.credits, 6),
            estimated=round(self.estimated, 6),
            cost=None if price is None else round(self.estimated * price, 6),
        )


def _price(event: Event, pricing: PricingConfig) -> float:
    found = price_of(
        pricing, provider=event.provider, model=event.model, resolution=event.resolution,
        duration_s=event.duration_s, audio=event.audio,
    )  # fmt: skip
    return found or 0.0


async def compute_digest(
    store: StoreReads,
    digest: DigestConfig,
    match: Matcher | None,
    pricing: PricingConfig,
    *,
    since: str,
    until: str,
) -> tuple[DigestReport, str | None]:
    """The digest of events received in [since, until), and the newest matching event's id
    (what its deliveries name; None when no event matched)."""
    groups: dict[tuple[str, ...], _Group] = {}
    newest: str | None = None
    cursor: str | None = None
    while True:
        page = await store.list_events(
            EventFilter(since=since, until=until, before_id=cursor), _PAGE
        )
        for stored in page:
            if stored.stale or stored.held or stored.note is not None:
                continue
            doc = msgspec.to_builtins(stored.event)
            if match is not None and not match(doc):
                continue
            newest = newest or stored.event.id
            key = tuple(field_text(doc, path) for path in digest.group_by)
            groups.setdefault(key, _Group()).add(stored.event, pricing)
        if len(page) < _PAGE:
            break
        cursor = page[-1].event.id
    results = [
        acc.result(dict(zip(digest.group_by, key, strict=True)), pricing)
        for key, acc in groups.items()
    ]
    results.sort(key=lambda g: (-g.tasks, list(g.group.values())))
    report = DigestReport(
        name=digest.name, since=since, until=until, group_by=list(digest.group_by),
        unit=pricing.unit, currency=pricing.currency if pricing.unit_price is not None else None,
        groups=results,
    )  # fmt: skip
    return report, newest
