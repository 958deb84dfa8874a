"""Sink health end to end with real parts: a SQLite file, the outbox worker, real HTTP sinks on
loopback. The worker's clock is injected, so "ten minutes" pass in a few rounds; requests are
counted at the server."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sink_endpoint import Endpoint
from sink_servers import Received, Reply

from tests.store_contract.samples import RAW, make_event, route_to
from vidhook.receiver.metrics import Metrics
from vidhook.receiver.store import Store, open_store
from vidhook.routes.sinks import build_sinks
from vidhook.routes.sinks.base import SinkContext
from vidhook.routes.worker import OutboxWorker

T0 = 1_800_000_000.0
BACKLOG = 5000
PAUSE_AFTER = 20
CONCURRENCY = 8


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def settle(worker: OutboxWorker) -> None:
    """Run the worker's rounds until nothing is in flight and nothing is due (a paused sink's
    waiting deliveries are not)."""
    while True:
        await worker.run_once()
        await asyncio.gather(*list(worker._tasks))
        due = await worker.store.next_due(worker.clock())
        if due is None or due > worker.clock():
            return


async def seed(store: Store, sink: str, events: int, per_event: int, prefix: str) -> None:
    """`events` stored events, each with `per_event` deliveries to `sink`, due now."""
    ids = []
    for n in range(events):
        result = await store.ingest(make_event(f"{prefix}-{n}"), RAW, route_to())
        ids.append(result.event.id)
    plan = [(event_id, [("all", sink)] * per_event) for event_id in ids]
    await store.add_deliveries_many(plan, replay=False, now=T0)


async def attempt_counts(store: Store, sink: str) -> dict[str, int]:
    """Every delivery of `sink` with its attempt count."""
    counts: dict[str, int] = {}
    cursor = None
    while True:
        page = await store.list_deliveries(None, sink, cursor, 1000)
        counts.update({row.id: row.attempts for row in page})
        if len(page) < 1000:
            return counts
        cursor = page[-1].id


async def states(store: Store, sink: str) -> set[str]:
    return {row.state for row in await store.list_deliveries(None, sink, None, 1000)}


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
async def store(tmp_path, clock):
    opened = open_store(f"sqlite:///{tmp_path / 'health.db'}", clock=clock)
    await opened.open()
    yield opened
    await opened.close()


async def test_a_sink_down_for_ten_minutes_costs_one_probe_a_minute(store, clock):
    down = [True]

    def app_answer(_: Received) -> Reply:
        return Reply(503, b"maintenance") if down[0] else Reply()

    async with Endpoint(app_answer) as app, Endpoint() as other, httpx.AsyncClient() as http:
        app_options = {"concurrency": CONCURRENCY, "pause_after": PAUSE_AFTER}
        sinks = build_sinks(
            {
                "app": {"type": "http", "url": app.url, "probe_interval": "1m", **app_options},
                "other": {"type": "http", "url": other.url},
            },
            SinkContext(http),
        )
        metrics = Metrics()
        worker = OutboxWorker(store, sinks, metrics, clock)
        await seed(store, "app", 10, BACKLOG // 10, "app")
        await seed(store, "other", 5, 1, "early")
        await settle(worker)

        # Paused after PAUSE_AFTER failures in a row (plus the sends already in flight) ...
        tried = len(app.received)
        assert PAUSE_AFTER <= tried < PAUSE_AFTER + CONCURRENCY
        [health] = await store.sink_health()
        assert (health.paused, health.paused_by, health.failures) == (True, "automatic", tried)
        assert metrics.sink_paused.labels("app")._value.get() == 1
        # ... while the other sink got everything, then and while app stays paused.
        assert len(other.delivered()) == 5
        before = await attempt_counts(store, "app")
        assert len(before) == BACKLOG

        for minute in range(1, 11):
            clock.now += 60
            await seed(store, "other", 1, 1, f"minute-{minute}")
            await settle(worker)
            assert len(app.received) == tried + minute  # one probe a minute
            assert len(other.delivered()) == 5 + minute

        after = await attempt_counts(store, "app")
        grown = [i for i in after if after[i] != before[i]]
        assert len(grown) == 10  # only the probes spent an attempt
        assert all(after[i] == before[i] + 1 for i in grown)
        assert await states(store, "app") == {"pending"}

        down[0] = False
        clock.now += 60
        await settle(worker)
        assert await states(store, "app") == {"delivered"}
        assert len(set(app.delivered())) == BACKLOG
        [health] = await store.sink_health()
        assert (health.paused, health.failures) == (False, 0)
        assert metrics.sink_probes.labels("app", "failed")._value.get() == 10
        assert metrics.sink_probes.labels("app", "succeeded")._value.get() == 1
        assert metrics.sink_paused.labels("app")._value.get() == 0
        assert app.peak <= CONCURRENCY


async def test_a_restarted_worker_keeps_the_sink_paused(store, clock):
    async with Endpoint(lambda _: Reply(503)) as app, httpx.AsyncClient() as http:
        options = {"type": "http", "url": app.url, "pause_after": 3, "concurrency": 1}
        sinks = build_sinks({"app": options}, SinkContext(http))
        await seed(store, "app", 1, 10, "app")
        await settle(OutboxWorker(store, sinks, Metrics(), clock))
        assert len(app.received) == 3

        restarted = OutboxWorker(store, sinks, Metrics(), clock)
        await settle(restarted)
        assert len(app.received) == 3
        clock.now += 60
        await settle(restarted)
        assert len(app.received) == 4  # the probe, once its minute is up


async def test_pause_after_zero_never_pauses(store, clock):
    async with Endpoint(lambda _: Reply(503)) as app, httpx.AsyncClient() as http:
        options = {"type": "http", "url": app.url, "pause_after": 0, "retry_schedule": [0.0]}
        sinks = build_sinks({"app": options}, SinkContext(http))
        await seed(store, "app", 1, 30, "app")
        await settle(OutboxWorker(store, sinks, Metrics(), clock))
    assert len(app.received) == 60  # each delivery tried twice, then dead
    [health] = await store.sink_health()
    assert (health.paused, health.failures) == (False, 60)
