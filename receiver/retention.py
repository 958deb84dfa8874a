"""Retention: prune raw requests, attempts, events and tasks older than `store.retention_days`.

Runs shortly after start and then every hour. The store never prunes an event whose
deliveries are still pending or held, so nothing waiting to be sent is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import structlog

from vidhook.receiver.event import rfc3339
from vidhook.receiver.store import Store

__all__ = ["RetentionTask"]

log = structlog.get_logger("vidhook.retention")


class RetentionTask:
    """A background task that prunes the store on a schedule."""

    def __init__(
        self,
        store: Store,
        retention_days: int,
        clock: Callable[[], float],
        *,
        first_delay: float = 60.0,
        interval: float = 3600.0,
    ) -> None:
        self.store = store
        self.retention_days = retention_days
        self.clock = clock
        self.first_delay = first_delay
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

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
            self._task = asyncio.create_task(self._run(), name="vidhook-retention")

    async def stop(self) -> None:
        """Stop the schedule (a prune the store has already begun still commits)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        await asyncio.sleep(self.first_delay)
        while True:
            try:
                await self.prune_once()
            except Exception as exc:  # a busy or full store: try again next round
                log.warning("retention prune failed", error=str(exc))
            await asyncio.sleep(self.interval)
