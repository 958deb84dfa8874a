"""Store contract, sink health: failures in a row pause a sink, its deliveries wait, one probe
per interval (across instances), a success or the operator resumes it."""

from __future__ import annotations

import asyncio

from tests.store_contract.samples import RAW, T0, make_event, route_to

INTERVAL = 60.0


async def _events(store, count: int, sink: str = "ops") -> None:
    for n in range(count):
        await store.ingest(make_event(f"{sink}-{n}"), RAW, route_to(sink))


async def _fail(store, times: int, sink: str = "ops", pause_after: int = 3, now: float = T0):
    row = None
    for n in range(times):
        row = await store.sink_failed(
            sink, f"HTTP 503 #{n}", now=now, pause_after=pause_after, probe_interval=INTERVAL
        )
    return row


async def test_failures_in_a_row_pause_the_sink_at_the_threshold(store):
    assert await store.sink_health() == []
    row = await _fail(store, 2)
    assert (row.failures, row.paused, row.last_error) == (2, False, "HTTP 503 #1")
    row = await _fail(store, 1)
    assert (row.failures, row.paused_at, row.paused_by) == (3, T0, "automatic")
    assert row.next_probe_at == T0 + INTERVAL
    [listed] = await store.sink_health()
    assert listed == row


async def test_pause_after_zero_never_pauses(store):
    row = await _fail(store, 50, pause_after=0)
    assert (row.failures, row.paused) == (50, False)


async def test_a_success_clears_the_count(store):
    await _fail(store, 2)
    assert await store.sink_succeeded("ops", now=T0)
    assert not await store.sink_succeeded("ops", now=T0)  # nothing left to clear
    row = await _fail(store, 2)
    assert (row.failures, row.paused) == (2, False)


async def test_a_paused_sinks_deliveries_wait_and_others_flow(store):
    await _events(store, 3, "ops")
    await _events(store, 2, "app")
    await _fail(store, 3)
    assert await store.claim("ops", "w1", T0, 30, 10) == []
    assert len(await store.claim("app", "w1", T0, 30, 10)) == 2
    assert await store.next_due(T0) is None  # the waiting ones wake no worker


async def test_one_probe_per_interval_then_a_success_resumes(store):
    await _events(store, 3)
    await _fail(store, 3)
    assert await store.take_probe("ops", "w1", now=T0 + 1, lease=30, probe_interval=INTERVAL) == []
    now = T0 + INTERVAL
    [probe] = await store.take_probe("ops", "w1", now=now, lease=30, probe_interval=INTERVAL)
    assert await store.take_probe("ops", "w2", now=now, lease=30, probe_interval=INTERVAL) == []
    [row] = await store.sink_health()
    assert row.next_probe_at == now + INTERVAL
    assert await store.sink_succeeded("ops", now=now)
    [row] = await store.sink_health()
    assert (row.failures, row.paused, row.next_probe_at) == (0, False, None)
    claimed = await store.claim("ops", "w1", now, 30, 10)
    assert probe.id not in {d.id for d in claimed} and len(claimed) == 2


async def test_no_probe_turn_is_spent_without_a_due_delivery(store):
    await _fail(store, 3)
    now = T0 + INTERVAL
    assert await store.take_probe("ops", "w1", now=now, lease=30, probe_interval=INTERVAL) == []
    [row] = await store.sink_health()
    assert row.next_probe_at == T0 + INTERVAL  # still due, for the first delivery to come
    await _events(store, 1, "ops")
    assert len(await store.take_probe("ops", "w1", now=now, lease=30, probe_interval=INTERVAL)) == 1


async def test_a_pause_by_hand_sends_no_probe_and_outlasts_a_success(store):
    await _events(store, 2)
    await store.pause_sink("ops", "token:ops", now=T0)
    [row] = await store.sink_health()
    assert (row.paused_at, row.paused_by, row.actor, row.next_probe_at) == (
        T0,
        "hand",
        "token:ops",
        None,
    )
    assert await store.claim("ops", "w1", T0, 30, 10) == []
    later = T0 + 10 * INTERVAL
    assert await store.take_probe("ops", "w1", now=later, lease=30, probe_interval=INTERVAL) == []
    await store.sink_succeeded("ops", now=later)  # a send that was in flight
    [row] = await store.sink_health()
    assert row.paused_by == "hand"
    await store.resume_sink("ops", now=later)
    [row] = await store.sink_health()
    assert (row.paused, row.paused_by, row.actor, row.failures) == (False, None, None, 0)
    assert len(await store.claim("ops", "w1", later, 30, 10)) == 2


async def test_a_pause_by_hand_over_an_automatic_one_keeps_its_start(store):
    await _fail(store, 3)
    await store.pause_sink("ops", "cli:root", now=T0 + 5)
    [row] = await store.sink_health()
    assert (row.paused_at, row.paused_by, row.next_probe_at) == (T0, "hand", None)


async def test_instances_share_the_state_and_take_one_probe_between_them(store, open_another):
    other = await open_another()
    await _events(store, 5)
    await _fail(store, 2)
    await _fail(other, 1)
    [row] = await other.sink_health()
    assert (row.failures, row.paused) == (3, True)
    now = T0 + INTERVAL
    taken = await asyncio.gather(
        *(
            s.take_probe("ops", f"w{n}", now=now, lease=30, probe_interval=INTERVAL)
            for n, s in enumerate([store, other] * 4)
        )
    )
    assert sum(len(t) for t in taken) == 1
