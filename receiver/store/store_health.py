"""The store's side of sink health, the circuit breaker: counting failures, pausing, probing,
resuming. The rules of when to pause live here and in `health_scripts.py`, once for both
databases."""

from __future__ import annotations

from vidhook.receiver.store import health_scripts, rows, scripts
from vidhook.receiver.store.connector import execute, fetch_all
from vidhook.receiver.store.records import DueDelivery, SinkHealth
from vidhook.receiver.store.store_reads import StoreReads

__all__ = ["StoreHealth"]


class StoreHealth(StoreReads):
    """Sink health over the store's connector; the `Store` is one.

    A sink's row counts its consecutive failed attempts (`sink_failed`); at its `pause_after`
    it is paused automatically, and `claim` leaves its deliveries alone: only `take_probe`
    leases one, once per `probe_interval`, across every instance on the database. A success
    (`sink_succeeded`) clears the count and lifts an automatic pause. `pause_sink` and
    `resume_sink` are the operator's: a pause by hand sends no probes and is lifted only by
    hand. A sink with no row is active with no failures.
    """

    async def sink_health(self) -> list[SinkHealth]:
        """Every sink's breaker state on record, by name."""
        return [rows.sink_health(r) for r in await self.connector.read(fetch_all("sink_health"))]

    async def sink_failed(
        self, sink: str, error: str | None, *, now: float, pause_after: int, probe_interval: float
    ) -> SinkHealth:
        """Count a failed attempt; pause the sink at `pause_after` in a row (0: never)."""
        row = await self.connector.transaction(
            lambda: health_scripts.sink_failed(
                sink, error, now=now, pause_after=pause_after, probe_interval=probe_interval
            ),
            durable=False,
        )
        return rows.sink_health(row)

    async def sink_succeeded(self, sink: str, *, now: float) -> bool:
        """Clear the failure count and lift an automatic pause (waking the workers for the
        deliveries that waited); true if anything changed."""
        statement = execute("sink_succeeded", sink=sink, now=now)
        return bool(await self.connector.transaction(lambda: scripts.wake_if(statement)))

    async def take_probe(
        self, sink: str, owner: str, *, now: float, lease: float, probe_interval: float
    ) -> list[DueDelivery]:
        """Lease one due delivery of an automatically paused sink as its probe, if the probe
        is due; the next one is then due `probe_interval` later."""
        claimed = await self.connector.transaction(
            lambda: health_scripts.take_probe(
                sink, owner, now=now, lease=lease, probe_interval=probe_interval
            ),
            durable=False,
        )
        return [rows.due_delivery(r) for r in claimed]

    async def pause_sink(self, sink: str, actor: str, *, now: float) -> None:
        """Pause a sink by hand: its deliveries wait, and no probe goes out."""
        await self.connector.write(execute("pause_by_hand", sink=sink, actor=actor, now=now))

    async def resume_sink(self, sink: str, *, now: float) -> None:
        """Resume a sink, however it was paused, clearing its failure count; its waiting
        deliveries are due again at once."""
        statement = execute("resume_sink", sink=sink, now=now)
        await self.connector.transaction(lambda: scripts.wake_if(statement))
