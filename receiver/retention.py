"""Retention: prune raw requests, attempts, events and tasks older than `store.retention_days`.

Runs shortly after start and then every hour. The store never prunes an event whose
deliveries are still pending or held, so nothing waiting to be sent is lost.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import structlog

from vidhook.receiver.background import Loop
from vidhook.receiver.event import rfc3339
from vidhook.receiver.store import Store

__all__ = ["RetentionTask"]

log = structlog.get_logger("vidhook.retention")


class RetentionTask(Loop):
    """A background loop that prunes the store on a schedule."""

    name = "retention"
    failure = "retention prune failed"

    def __init__(
        self,
        store: Store,
        retention_days: int,
        clock: Callable[[], float],
        *,
        first_delay: float = 60.0,
        interval: float = 3600.0,
    ) -> None:
        super().__init__(idle_wait=interval)
        self.store = store
        self.retention_days = retention_days
        self.clock = clock
        self.first_delay = first_delay
        self.interval = interval
        self._waited = False

    def cutoff(self) -> str:
        """The RFC 3339 time before which records are pruned."""
        moment = datetime.fromtimestamp(self.clock(), UTC) - timedelta(days=self.retention_days)
        return rfc3339(moment)

    async def prune_once(self) -> int:
        """Prune everything older than the cutoff now; return how many rows went."""
        before = self.cutoff()
        pruned = await self.store.prune(before)
        log.info("retention pruned", before=before, rows=pruned)
        return pruned

    def start(self) -> None:
        """Start the schedule (no-op when retention_days is 0 or less: keep everything)."""
        if self.retention_days > 0:
            self._waited = False
            super().start()

    async def run_once(self) -> float:
        """Prune, except in the first round, which waits `first_delay` so start-up is not slowed."""
        if not self._waited:
            self._waited = True
            return self.first_delay
        await self.prune_once()
        return self.interval
