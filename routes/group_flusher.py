"""The group flusher: turns each group whose wait is over into one delivery.

Events a grouped rule sends to slack and email sinks wait in durable groups in the store (see
`routes/grouping.py`). Each round this loop counts the open groups and, when one is due, takes
the due ones and turns each into one delivery in the same transaction; the outbox worker then
sends it like any other, with its retries and dead letters. On PostgreSQL instances flushing at
once skip each other's groups, so each group is sent once.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from vidhook.receiver.background import Loop
from vidhook.receiver.metrics import Metrics
from vidhook.receiver.store import Store

__all__ = ["GroupFlusher"]


class GroupFlusher(Loop):
    """Flushes due groups, `batch` at a time, and keeps the open-groups gauge current."""

    name = "group-flusher"
    failure = "group flush failed"

    def __init__(
        self,
        store: Store,
        metrics: Metrics,
        clock: Callable[[], float] = time.time,
        idle_wait: float = 1.0,
        batch: int = 100,
    ) -> None:
        super().__init__(idle_wait)
        self.store = store
        self.metrics = metrics
        self.clock = clock
        self.batch = batch

    async def run_once(self) -> float:
        """Flush what is due (a read first, so an idle round commits nothing); wait until the
        next group is due, at most `idle_wait`, since new groups open without a word."""
        open_groups, next_at = await self.store.group_counts()
        self.metrics.groups_open.set(open_groups)
        now = self.clock()
        if next_at is None:
            return self.idle_wait
        if next_at > now:
            return min(self.idle_wait, next_at - now)
        flushed = await self.store.flush_groups(now, self.batch)
        for group in flushed:
            self.metrics.group_events.labels(group.sink).inc(group.size)
        return 0.0 if flushed else self.idle_wait
