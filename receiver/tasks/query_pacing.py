"""Pacing of task queries per provider API key, so a backlog never floods a provider.

Every source that shares a provider, an address and an API key shares one pace: its queries
go out at most `queries_per_minute`, evenly spaced (no burst), so the catch-up after a long
outage stays within the provider's published limit. The turns are handed out by the store,
so several vidhook instances on one database share the pace too. A 429 with `Retry-After`
pauses every query of that key until then.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable

from vidhook.receiver.errors import RateLimited
from vidhook.receiver.sources import Source
from vidhook.receiver.store import Store

__all__ = ["MAX_PACING_WAIT", "QueryPacer", "QueryPacers", "QueryRateExceeded", "query_rate"]

# A query that would wait longer than this for its turn is not sent; it is asked again later,
# so a poll claim's lease never runs out while its query waits.
MAX_PACING_WAIT = 30.0


class QueryRateExceeded(RateLimited):
    """The provider API key's query budget is spent for now; the query is asked again later."""

    code = "query_rate_exceeded"


def query_rate(source: Source) -> float:
    """Task queries per minute this source's key may make: the source's own setting, else the
    provider's published limit."""
    if source.config.queries_per_minute is not None:
        return source.config.queries_per_minute
    api = source.provider.task_api
    return api.queries_per_minute if api is not None else 600.0


def pace_key(source: Source) -> str:
    """The name of a source's pace in the store: a hash of provider, address and API key, so
    the key itself is never stored."""
    parts = (source.config.provider, source.base_url, source.config.api_key or "")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]


class QueryPacer:
    """The turns of one API key's queries, `spacing` seconds apart, shared through the store."""

    def __init__(
        self, store: Store, key: str, spacing: float, clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.key = key
        self.spacing = spacing
        self.clock = clock

    async def turn(self, max_wait: float = MAX_PACING_WAIT) -> None:
        """Wait for this key's next turn; raise `QueryRateExceeded` (taking no turn) when it
        is more than `max_wait` away."""
        now = self.clock()
        turn = await self.store.take_query_turn(self.key, now, self.spacing, max_wait)
        if turn is None:
            raise QueryRateExceeded(
                f"the query budget of this API key is spent for the next {max_wait:g} s",
                retry_after=max_wait,
            )
        if turn > now:
            await asyncio.sleep(turn - now)

    async def pause(self, seconds: float) -> None:
        """The provider answered 429: no query of this key for `seconds`."""
        await self.store.pause_queries(self.key, self.clock() + seconds)


class QueryPacers:
    """One pacer per (provider, base URL, API key); the slowest rate of the sources sharing a
    key wins, since the provider counts the key's queries, not the source's."""

    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock
        self._pacers: dict[str, QueryPacer] = {}

    def of(self, source: Source) -> QueryPacer:
        """The pacer of this source's API key."""
        key = pace_key(source)
        spacing = 60.0 / query_rate(source)
        pacer = self._pacers.get(key)
        if pacer is None:
            pacer = self._pacers[key] = QueryPacer(self.store, key, spacing, self.clock)
        pacer.spacing = max(pacer.spacing, spacing)
        return pacer
