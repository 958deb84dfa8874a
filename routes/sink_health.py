"""Sink health for the outbox worker: the circuit breaker that pauses a failing sink.

A sink that fails `pause_after` attempts in a row is paused (automatically). Its deliveries
wait in the outbox unclaimed, so their attempt counts stay where they are; every
`probe_interval` one of them goes out as a probe, and the first success resumes the sink and
lets everything that waited flow again. An operator can pause and resume a sink by hand (a
sink paused by hand sends no probes). The state lives in the store, shared by every instance;
`SinkBreaker` keeps this worker's view of it, read again every `refresh` seconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

import msgspec
import structlog

from vidhook.receiver.metrics import Metrics
from vidhook.receiver.store import Store
from vidhook.receiver.store.records import AttemptRecord, DueDelivery, SinkHealth
from vidhook.routes.sinks.base import Sink

__all__ = ["SinkBreaker"]

log = structlog.get_logger("vidhook.sink_health")


class SinkBreaker:
    """The worker's view of every sink's health, and the breaker's moves: probes, failures
    counted, pauses and resumptions, with their log lines and metrics."""

    def __init__(
        self,
        store: Store,
        sinks: Mapping[str, Sink],
        metrics: Metrics,
        clock: Callable[[], float],
        refresh: float = 1.0,
    ) -> None:
        self.store = store
        self.sinks = sinks
        self.metrics = metrics
        self.clock = clock
        self.refresh = refresh
        self._health: dict[str, SinkHealth] = {}
        self._read_at: float | None = None

    def paused(self, name: str) -> bool:
        """Whether the sink is paused, as last seen."""
        row = self._health.get(name)
        return row is not None and row.paused

    def next_probe(self) -> float | None:
        """When the earliest probe of an automatically paused sink is due, as last seen."""
        due = [
            row.next_probe_at
            for name, row in self._health.items()
            if name in self.sinks and row.paused_by == "automatic" and row.next_probe_at
        ]
        return min(due, default=None)

    def forget(self) -> None:
        """Read the state again at the next `look` (an operator changed it)."""
        self._read_at = None

    async def look(self) -> None:
        """Read every sink's state again if the view is `refresh` seconds old (real time, as
        other instances and the operator change it in real time); a failure keeps the old
        view (claims check the pause in the store anyway)."""
        now = time.monotonic()
        if self._read_at is not None and now - self._read_at < self.refresh:
            return
        try:
            rows = await self.store.sink_health()
        except Exception as exc:  # the view is a hint; delivery goes on
            log.warning("could not read sink health", error=str(exc))
            return
        self._read_at = now
        self._health = {row.sink: row for row in rows}
        for name in self.sinks:
            self.metrics.sink_paused.labels(name).set(1 if self.paused(name) else 0)

    async def probe(self, name: str, owner: str, now: float, lease: float) -> list[DueDelivery]:
        """One due delivery of a paused sink as its probe, when its probe is due."""
        row = self._health[name]
        if row.paused_by != "automatic" or row.next_probe_at is None or row.next_probe_at > now:
            return []
        interval = self.sinks[name].config.probe_seconds
        claimed = await self.store.take_probe(
            name, owner, now=now, lease=lease, probe_interval=interval
        )
        self._health[name] = _replace(row, next_probe_at=now + interval)
        return claimed

    async def settle(self, name: str, record: AttemptRecord, probe: bool) -> None:
        """Count an attempt's outcome: a failure toward the pause, a success as health."""
        if probe:
            outcome = "succeeded" if record.outcome == "delivered" else "failed"
            self.metrics.sink_probes.labels(name, outcome).inc()
        try:
            if record.outcome == "delivered":
                await self._succeeded(name)
            else:
                await self._failed(name, record.error)
        except Exception as exc:  # the breaker must never lose an attempt's record
            log.warning("could not record sink health", sink=name, error=str(exc))

    async def _succeeded(self, name: str) -> None:
        row = self._health.get(name)
        if row is None or (row.failures == 0 and row.paused_by != "automatic"):
            return  # nothing to clear: the common case costs no write
        now = self.clock()
        await self.store.sink_succeeded(name, now=now)
        if row.paused_by == "automatic":
            log.info("sink resumed", sink=name, paused_for=round(now - (row.paused_at or now)))
            self.metrics.sink_paused.labels(name).set(0)
            self._health[name] = SinkHealth(sink=name, updated_at=now)
        else:
            self._health[name] = _replace(row, failures=0)

    async def _failed(self, name: str, error: str | None) -> None:
        config = self.sinks[name].config
        row = await self.store.sink_failed(
            name,
            error,
            now=self.clock(),
            pause_after=config.pause_after,
            probe_interval=config.probe_seconds,
        )
        self._health[name] = row
        if row.paused_by == "automatic" and row.paused_at == row.updated_at:  # paused just now
            log.warning(
                "sink paused after failures in a row", sink=name, failures=row.failures,
                probe_every=config.probe_seconds, error=error,
            )  # fmt: skip
            self.metrics.sink_paused.labels(name).set(1)


def _replace(row: SinkHealth, **changes: object) -> SinkHealth:
    return msgspec.structs.replace(row, **changes)
