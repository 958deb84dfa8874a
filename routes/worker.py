"""The delivery worker: claims due outbox rows, sends them, records every attempt."""

from __future__ import annotations

import asyncio
import os
import random
import socket
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Literal

import structlog

from vidhook.receiver.background import Loop
from vidhook.receiver.event import new_id, rfc3339
from vidhook.receiver.metrics import Metrics
from vidhook.receiver.store import Store
from vidhook.receiver.store.records import AttemptRecord, DueDelivery
from vidhook.routes.sink_health import SinkBreaker
from vidhook.routes.sinks.base import Delivery, SendResult, Sink, SinkError

__all__ = [
    "DEFAULT_SCHEDULE",
    "MAX_RETRY_AFTER",
    "OutboxWorker",
    "dead_local_owners",
    "next_retry",
    "worker_owner",
]

# Seconds before each retry; after the last, a delivery is dead.
DEFAULT_SCHEDULE: tuple[float, ...] = (5, 30, 120, 600, 1800, 3600, 10800, 21600)
# A sink asking to wait longer than this (`Retry-After: 99999999999`) is broken; holding it to
# a day keeps the delivery from being parked for good.
MAX_RETRY_AFTER = 86400.0
_EXCERPT = 500
log = structlog.get_logger("vidhook.worker")


def next_retry(
    schedule: tuple[float, ...] | list[float], attempt: int, retry_after: float | None
) -> float | None:
    """Seconds to wait before retrying after `attempt` failed attempts (None: give up).

    The schedule's delay gets +-20 % jitter so retries of many deliveries spread out; a sink's
    own `Retry-After` is honoured when it asks for longer, up to MAX_RETRY_AFTER.
    """
    if attempt > len(schedule):
        return None
    delay = schedule[attempt - 1] * random.uniform(0.8, 1.2)
    if retry_after is None:
        return delay
    return max(delay, min(retry_after, MAX_RETRY_AFTER))


def worker_owner() -> str:
    """A lease owner name that says which host and process hold a lease: `host/pid/nonce`."""
    return f"{socket.gethostname()}/{os.getpid()}/{new_id()[-8:]}"


def dead_local_owners(owners: Iterable[str], host: str | None = None) -> list[str]:
    """The lease owners among `owners` that were processes of this host and are gone.

    Their leases can be given back at once instead of waiting for them to expire. An owner of
    another host, an unreadable one or one whose pid is alive (perhaps reused) is left alone:
    its lease still expires.
    """
    host = socket.gethostname() if host is None else host
    dead = []
    for owner in owners:
        parts = owner.rsplit("/", 2)
        mine = len(parts) == 3 and parts[0] == host and parts[1].isdigit()
        if mine and not _process_alive(int(parts[1])):
            dead.append(owner)
    return dead


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. PermissionError: it exists but belongs to someone else
        return True
    return True


class OutboxWorker(Loop):
    """Delivers due outbox rows to their sinks, each sink with its own concurrency limit, so a
    slow or dead sink never holds up the others; a paused sink (see `sink_health`) sends only
    its probes."""

    name = "outbox-worker"
    failure = "claim failed"

    def __init__(
        self,
        store: Store,
        sinks: dict[str, Sink],
        metrics: Metrics,
        clock: Callable[[], float] = time.time,
        idle_wait: float = 1.0,
        grace: float = 10.0,
    ) -> None:
        super().__init__(idle_wait, grace)
        self.store = store
        self.sinks = sinks
        self.metrics = metrics
        self.clock = clock
        self.owner = worker_owner()
        # Deliveries in hand per sink, sending or recording: the concurrency limit counts these.
        # Giving the slot back before the record is written saves commits but costs more
        # claims, each of a single row, and more CPU per delivery.
        self._busy: dict[str, int] = dict.fromkeys(sinks, 0)
        self._tasks: set[asyncio.Task[None]] = set()
        self.health = SinkBreaker(store, sinks, metrics, clock)

    async def drain(self, grace: float) -> None:
        """Let in-flight sends finish for up to `grace` seconds, then release the leases of any
        still running so another worker takes them at once."""
        if self._tasks:
            _, still = await asyncio.wait(self._tasks, timeout=grace)
            for task in still:
                task.cancel()
            await asyncio.gather(*still, return_exceptions=True)
        await self.store.release(self.owner)

    async def prepare(self) -> None:
        """Take up a dead local worker's leases and warn of deliveries no sink will send."""
        await self._release_dead_owners()
        await self._warn_of_unknown_sinks()

    async def run_once(self) -> float:
        """Claim for every sink with a free slot; wait until the next delivery is due."""
        await self._claim_all()
        return await self._idle_delay()

    async def _claim_all(self) -> None:
        # Every sink's claim is queued at once, so the store commits them together.
        now = self.clock()
        await self.health.look()
        await asyncio.gather(*(self._claim(name, now) for name in self._open_sinks()))

    async def _claim(self, name: str, now: float) -> None:
        sink = self.sinks[name]
        free = sink.config.concurrency - self._busy[name]
        lease = sink.config.timeout + sink.config.lease_margin
        probe = self.health.paused(name)
        if probe:
            claimed = await self.health.probe(name, self.owner, now, lease)
        else:
            claimed = await self.store.claim(name, self.owner, now, lease, free)
        for due in claimed:
            self._busy[name] += 1
            task = asyncio.create_task(self._deliver(name, sink, due, probe))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _open_sinks(self) -> list[str]:
        """The names of the sinks with a free slot."""
        return [n for n, s in self.sinks.items() if self._busy[n] < s.config.concurrency]

    async def _release_dead_owners(self) -> None:
        # A process of this host that was killed holds its leases until they expire; it is
        # known to be gone, so its deliveries are taken up again now.
        try:
            for owner in dead_local_owners(await self.store.lease_owners()):
                log.info("releasing leases of a dead worker", owner=owner)
                await self.store.release(owner)
        except Exception as exc:  # the leases still expire on their own
            log.warning("could not release stale leases", error=str(exc))

    async def _warn_of_unknown_sinks(self) -> None:
        # Deliveries of a sink taken out of the config are never claimed; without a word at
        # start they would wait unseen for ever.
        try:
            stats = await self.store.sink_stats()
        except Exception as exc:  # only a warning is lost; delivery goes on
            log.warning("could not count deliveries of unknown sinks", error=str(exc))
            return
        for row in stats:
            if row.pending and row.sink not in self.sinks:
                log.warning(
                    "deliveries pending for a sink that is not configured", sink=row.sink,
                    pending=row.pending, hint=f"re-add [sinks.{row.sink}] to send them, or see "
                    f"them with GET /admin/deliveries?sink={row.sink}&state=pending",
                )  # fmt: skip

    async def _idle_delay(self) -> float:
        # Only sinks with a free slot count: a full sink's backlog is due already, and waking
        # for it would spin; a send that ends wakes the loop anyway. A paused sink's deliveries
        # are not due (the store leaves them out); its next probe is.
        open_sinks = self._open_sinks()
        if not open_sinks:
            return self.idle_wait
        due = await self.store.next_due(self.clock(), open_sinks)
        times = [t for t in (due, self.health.next_probe()) if t is not None]
        if not times:
            return self.idle_wait
        return min(self.idle_wait, max(0.0, min(times) - self.clock()))

    async def _deliver(self, name: str, sink: Sink, due: DueDelivery, probe: bool) -> None:
        try:
            record = await self._attempt(sink, due)
            self.metrics.deliveries.labels(due.sink, record.outcome).inc()
            self.metrics.delivery_latency.labels(due.sink).observe(record.latency_ms / 1000)
            await self._finish(record)
            await self.health.settle(name, record, probe)
        finally:
            self._busy[name] -= 1
            self._wake.set()

    async def _attempt(self, sink: Sink, due: DueDelivery) -> AttemptRecord:
        """Send one delivery and say what came of it."""
        number = due.attempts + 1
        started = time.monotonic()
        at = rfc3339(datetime.fromtimestamp(self.clock(), UTC))
        try:
            async with asyncio.timeout(sink.config.timeout):
                result = await sink.send(await self._delivery(due, number))
            record = self._success(due, number, at, result, started)
        except SinkError as exc:
            record = self._failure(sink, due, number, at, started, exc)
        except TimeoutError:
            error = SinkError(f"no answer within {sink.config.timeout:g} s")
            record = self._failure(sink, due, number, at, started, error)
        except Exception as exc:  # a sink bug must not kill the worker; retry it
            log.exception("sink raised", sink=due.sink, delivery_id=due.id)
            record = self._failure(sink, due, number, at, started, SinkError(repr(exc)))
        return record

    async def _delivery(self, due: DueDelivery, number: int) -> Delivery:
        """What the sink is handed: the delivery, with its group's events if it is a group's."""
        group = None if due.group_id is None else await self.store.group_batch(due.group_id)
        digest = None if due.digest_id is None else await self.store.digest_of(due.digest_id)
        return Delivery(
            id=due.id,
            sink=due.sink,
            webhook_id=due.webhook_id,
            attempt=number,
            replay=due.replay,
            event=due.event,
            raw_body=due.raw_body,
            group=group,
            digest=digest,
        )

    async def _finish(self, record: AttemptRecord) -> None:
        # The attempt must be recorded, or the lease expires and it is sent again.
        for pause in (0.1, 0.5, 2.0, 5.0, None):
            try:
                await self.store.finish(record)
                return
            except Exception as exc:
                if pause is None:
                    log.error(
                        "attempt not recorded; it is sent again when its lease expires",
                        delivery_id=record.delivery_id, outcome=record.outcome, error=str(exc),
                    )  # fmt: skip
                    return
                log.warning("could not record attempt", error=str(exc), retry_in=pause)
                await asyncio.sleep(pause)

    def _success(
        self, due: DueDelivery, number: int, at: str, result: SendResult, started: float
    ) -> AttemptRecord:
        # Debug, not info: a line per delivery cost 5 % of the event loop at 500/s; each attempt
        # is recorded in the store and counted in the metrics, and failures are warnings.
        log.debug("delivered", sink=due.sink, delivery_id=due.id, attempt=number)
        return AttemptRecord(
            delivery_id=due.id,
            number=number,
            at=at,
            outcome="delivered",
            latency_ms=(time.monotonic() - started) * 1000,
            status_code=result.status_code,
            response=result.response_excerpt[:_EXCERPT],
        )

    def _failure(
        self, sink: Sink, due: DueDelivery, number: int, at: str, started: float, exc: SinkError
    ) -> AttemptRecord:
        schedule = sink.config.retry_schedule or DEFAULT_SCHEDULE
        delay = next_retry(schedule, number, exc.retry_after) if exc.retryable else None
        outcome: Literal["dead", "retry"] = "dead" if delay is None else "retry"
        log.warning(
            "delivery failed", sink=due.sink, delivery_id=due.id, attempt=number,
            error=exc.message, outcome=outcome, retry_in=delay,
        )  # fmt: skip
        return AttemptRecord(
            delivery_id=due.id,
            number=number,
            at=at,
            outcome=outcome,
            latency_ms=(time.monotonic() - started) * 1000,
            status_code=exc.status_code,
            error=exc.message[:1000],
            response=exc.response_excerpt[:_EXCERPT],
            next_at=None if delay is None else self.clock() + delay,
        )
