"""Usage per group over a time range: the store's aggregation, priced by `[pricing]`.

Per group: `tasks` (tasks first reported in the range), `completed` and `failed` (tasks whose
final report arrived in the range; cancelled and expired count as failed), `credits` (what the
providers reported, refunds left out) and `estimated`: the reported credits plus, for each
completed task whose provider reported none, its table price (see `pricing`). Completed tasks
that are neither reported nor priced are counted in `unpriced`. `cost` is `estimated` times
`pricing.unit_price`, when that is set.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from vidhook.receiver.event import rfc3339_at
from vidhook.receiver.event_filter import parse_moment
from vidhook.receiver.pricing import PricingConfig, price_of
from vidhook.receiver.store.store_reads import StoreReads
from vidhook.receiver.store.usage_query import USAGE_FIELDS, UsageBucket, check_group_by

__all__ = [
    "DEFAULT_SINCE",
    "UsageGroup",
    "UsageReport",
    "parse_group_by",
    "price_buckets",
    "usage_range",
    "usage_report",
]

DEFAULT_SINCE = "30d"


def usage_range(since: str | None, until: str | None, now: float) -> tuple[str, str]:
    """[since, until) as RFC 3339 from RFC 3339 text or an age (`30d`); since defaults to
    30 days before `now`, until to `now`."""
    start = parse_moment(since or DEFAULT_SINCE, now, name="since")
    end = parse_moment(until, now, name="until") if until else rfc3339_at(now)
    return start, end


def parse_group_by(text: str | None, *, bare_labels: bool = False) -> list[str]:
    """Group keys from comma-separated text (`labels.end_user_id,model`); with `bare_labels`
    (the CLI's `--by end_user_id`), a name that is no event field means that label.
    BadRequest names a key usage cannot group by."""
    fields = [part.strip() for part in (text or "").split(",") if part.strip()]
    if bare_labels:
        fields = [
            f if f in USAGE_FIELDS or f.startswith("labels.") else f"labels.{f}" for f in fields
        ]
    return check_group_by(fields)


class UsageGroup(msgspec.Struct, kw_only=True):
    """One group's usage (`group` maps each group_by field to its value)."""

    group: dict[str, str | None]
    tasks: int = 0
    completed: int = 0
    failed: int = 0
    credits: float = 0.0
    estimated: float = 0.0
    cost: float | None = None
    unpriced: int = 0


class UsageReport(msgspec.Struct, kw_only=True):
    """Usage per group over [since, until), most tasks first."""

    since: str
    until: str
    group_by: list[str]
    unit: str
    currency: str | None
    groups: list[UsageGroup]


async def usage_report(
    store: StoreReads,
    pricing: PricingConfig,
    *,
    since: str,
    until: str,
    group_by: Sequence[str],
) -> UsageReport:
    """Usage of events received in [since, until), per group of `group_by`."""
    buckets = await store.usage(since, until, group_by)
    return UsageReport(
        since=since,
        until=until,
        group_by=list(group_by),
        unit=pricing.unit,
        currency=pricing.currency if pricing.unit_price is not None else None,
        groups=price_buckets(buckets, list(group_by), pricing),
    )


def price_buckets(
    buckets: Sequence[UsageBucket], group_by: list[str], pricing: PricingConfig
) -> list[UsageGroup]:
    """The buckets summed per group, each bucket's unreported completed tasks priced once."""
    groups: dict[tuple[str | None, ...], UsageGroup] = {}
    for bucket in buckets:
        key = tuple(bucket.keys)
        group = groups.get(key)
        if group is None:
            group = groups[key] = UsageGroup(group=dict(zip(group_by, bucket.keys, strict=True)))
        _add(group, bucket, pricing)
    for group in groups.values():
        group.estimated = round(group.estimated, 6)
        if pricing.unit_price is not None:
            group.cost = round(group.estimated * pricing.unit_price, 6)
    return sorted(groups.values(), key=lambda g: (-g.tasks, [v or "" for v in g.group.values()]))


def _add(group: UsageGroup, bucket: UsageBucket, pricing: PricingConfig) -> None:
    group.tasks += bucket.tasks
    group.completed += bucket.completed
    group.failed += bucket.failed
    group.credits += bucket.credits
    group.estimated += bucket.credits
    if not bucket.unreported:
        return
    price = price_of(
        pricing,
        provider=bucket.provider,
        model=bucket.model,
        resolution=bucket.resolution,
        duration_s=bucket.duration_s,
        audio=bucket.audio,
    )
    if price is None:
        group.unpriced += bucket.unreported
    else:
        group.estimated += price * bucket.unreported
