"""`[pricing]`: what a generated video costs, per provider and model, by resolution, length
and audio, for usage's estimated cost where the provider reports no credits.

The price of a task is looked up in the table of its provider and model (else its provider's
`model = "*"` table), in the entry of its resolution whose length is nearest its own. A length
the table does not list is priced linearly per second from that nearest entry (a 7 s task is
7/5 of the 5 s price), unless `durations = "exact"`, which leaves it unpriced. A task with no
known resolution or length is unpriced; one whose audio is unknown is priced as with audio
(the higher, cautious figure).
"""

from __future__ import annotations

from typing import Literal

import msgspec

from vidhook.receiver.providers.source_config import ConfigStruct
from vidhook.receiver.providers.usage_facts import read_resolution

__all__ = ["PriceEntry", "PriceTable", "PricingConfig", "price_of"]


class PriceEntry(ConfigStruct):
    """One line of a price table: a resolution and length, priced with and without audio."""

    resolution: str
    seconds: float
    audio: float | None = None  # with audio generated
    silent: float | None = None  # without audio

    def __post_init__(self) -> None:
        if read_resolution(self.resolution) is None:
            raise ValueError(f"resolution: {self.resolution!r} is not a resolution such as 720p")
        if not self.seconds > 0:
            raise ValueError("seconds: must be above 0")
        if self.audio is None and self.silent is None:
            raise ValueError("a price entry needs `audio`, `silent` or both")
        for price in (self.audio, self.silent):
            if price is not None and not price >= 0:
                raise ValueError("a price must be 0 or more")

    def price(self, audio: bool | None) -> float:
        """The entry's price for a task with (True), without (False) or unknown audio."""
        first, second = (self.silent, self.audio) if audio is False else (self.audio, self.silent)
        found = first if first is not None else second
        assert found is not None  # __post_init__ requires one
        return found


class PriceTable(ConfigStruct):
    """The prices of one provider's model (`model = "*"`: any model it has no table for)."""

    provider: str
    model: str = "*"
    prices: list[PriceEntry] = msgspec.field(default_factory=list)


class PricingConfig(ConfigStruct):
    """What usage's estimated cost is in: table prices are in `unit` (e.g. the provider's
    credits); `unit_price` (in `currency`) turns units into money when given."""

    unit: str = "credits"
    currency: str | None = None
    unit_price: float | None = None
    durations: Literal["interpolate", "exact"] = "interpolate"
    tables: list[PriceTable] = []

    def __post_init__(self) -> None:
        if self.unit_price is not None and not self.unit_price >= 0:
            raise ValueError("unit_price: must be 0 or more")
        seen: set[tuple[str, str]] = set()
        for table in self.tables:
            key = (table.provider, table.model)
            if key in seen:
                raise ValueError(f"tables: two tables for {table.provider} model {table.model}")
            seen.add(key)


def price_of(
    pricing: PricingConfig,
    *,
    provider: str,
    model: str | None,
    resolution: str | None,
    duration_s: float | None,
    audio: bool | None,
) -> float | None:
    """The table price (in `pricing.unit`) of one task, or None when it cannot be priced."""
    wanted = read_resolution(resolution)
    if wanted is None or duration_s is None:
        return None
    table = _table(pricing, provider, model)
    if table is None:
        return None
    entries = [e for e in table.prices if read_resolution(e.resolution) == wanted]
    if not entries:
        return None
    nearest = min(entries, key=lambda e: (abs(e.seconds - duration_s), e.seconds))
    if nearest.seconds == duration_s:
        return nearest.price(audio)
    if pricing.durations == "exact":
        return None
    return nearest.price(audio) * duration_s / nearest.seconds


def _table(pricing: PricingConfig, provider: str, model: str | None) -> PriceTable | None:
    fallback = None
    for table in pricing.tables:
        if table.provider != provider:
            continue
        if table.model == model:
            return table
        if table.model == "*":
            fallback = table
    return fallback
