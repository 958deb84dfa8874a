"""Store contract, upkeep: retention, the bounded rejection log, meta values, reopening."""

from __future__ import annotations

import pytest

from tests.store_contract.samples import MEMORY, RAW, T0, at, make_event, route_to
from vidhook.receiver.store import open_store
from vidhook.receiver.store.records import AttemptRecord, EventFilter, PollPlan, Rejection


async def test_prune_deletes_old_history_but_never_pending_work(store):
    old_done = make_event("old-done", received_at=at(1))
    old_pending = make_event("old-pending", received_at=at(2))
    recent = make_event("recent", received_at=at(20))
    for event in (old_done, old_pending, recent):
        await store.ingest(event, RAW, route_to("ops"))
    [due] = await store.claim("ops", "w1", T0, 30, 1)
    assert due.event_id == old_done.id
    await store.finish(
        AttemptRecord(
            delivery_id=due.id, number=1, at=at(1, 5), outcome="delivered", latency_ms=3.0
        )
    )
    removed = await store.prune(at(10))
    assert removed == 3  # old_done's raw request, attempt and event
    assert await store.get_event(old_done.id) is None
    assert await store.get_raw(old_done.id) is None
    assert await store.deliveries_of(old_done.id) == []
    assert await store.attempts_of(old_done.id) == []
    for kept in (old_pending, recent):
        assert (await store.get_event(kept.id)).event == kept
        assert await store.get_raw(kept.id) == RAW
    assert await store.count_events(EventFilter()) == 2
    assert await store.prune(at(10)) == 0


async def test_prune_drops_old_attempts_of_kept_events(store):
    event = make_event("t1", received_at=at(20))
    await store.ingest(event, RAW, route_to("ops"))
    [due] = await store.claim("ops", "w1", T0, 30, 1)
    await store.finish(
        AttemptRecord(
            delivery_id=due.id, number=1, at=at(1), outcome="retry", latency_ms=3.0,
            error="HTTP 502", next_at=T0 + 5,
        )
    )  # fmt: skip
    assert await store.prune(at(10)) == 1
    assert await store.attempts_of(event.id) == []
    assert (await store.get_event(event.id)).event == event


async def test_prune_drops_old_tasks_that_are_done_or_not_polled(store):
    # T0 is weeks before at(10): every task below was last updated before the cutoff.
    plan = PollPlan(next_at=T0, interval=10.0, deadline=T0 + 1800)
    await store.register_task("vg", "idle", {"team": "ads"}, now=T0, poll=None)
    await store.register_task("vg", "polled", {}, now=T0, poll=plan)
    await store.register_task("vg", "stopped", {}, now=T0, poll=plan)
    await store.set_poll("vg", "stopped", next_at=None, errors=0)
    await store.register_task("vg", "kept", {}, now=T0, poll=None)
    forged = make_event("kept", received_at=at(20))
    await store.ingest(forged, RAW, route_to("ops"), hold=True)
    assert await store.reject_held(forged.id, "rejected: provider says processing", now=T0)
    assert await store.prune(at(10)) == 2
    assert await store.get_task("vg", "idle") is None
    assert await store.get_task("vg", "stopped") is None
    assert (await store.get_task("vg", "polled")).poll is True  # still being polled
    assert (await store.get_task("vg", "kept")).updated_at < at(10)  # its event is kept
    assert await store.prune(at(10)) == 0


async def test_prune_drops_a_finished_task_with_its_last_event(store):
    await store.register_task("vg", "done", {}, now=T0, poll=None)
    event = make_event("done", received_at=at(1))
    await store.ingest(event, RAW, route_to())
    assert (await store.get_task("vg", "done")).status == "completed"
    assert await store.prune(at(10)) == 2  # the raw request and the event; the task is recent
    assert await store.get_task("vg", "done") is not None
    far = "2999-01-01T00:00:00.000Z"
    assert await store.prune(far) == 1
    assert await store.get_task("vg", "done") is None


def _rejection(n: int) -> Rejection:
    return Rejection(
        at=at(3, n), source="vg" if n % 2 else None, reason="bad_token", status=401,
        message=f"token {n} is wrong", client="198.51.100.9", size=100 + n,
        head=b'{"task_id": "\x00' + bytes([n]) + b'"}',
    )  # fmt: skip


async def test_the_rejection_log_keeps_the_newest(store):
    for n in range(15):
        await store.record_rejection(_rejection(n), keep=10)
    kept = await store.list_rejected(100)
    assert kept == [_rejection(n) for n in range(14, 4, -1)]
    assert await store.list_rejected(3) == kept[:3]


async def test_meta_values_are_set_and_replaced(store):
    assert await store.get_meta("default_tokens") is None
    await store.set_meta("default_tokens", '{"vg": "a"}')
    await store.set_meta("default_tokens", '{"vg": "b"}')
    assert await store.get_meta("default_tokens") == '{"vg": "b"}'


async def test_data_survives_reopening_and_migrations_run_once(store, store_url):
    if store_url == MEMORY:
        pytest.skip("an in-memory database ends with its store")
    event = make_event("t1")
    await store.ingest(event, RAW, route_to("ops"))
    again = open_store(store_url)
    await again.open()
    try:
        assert (await again.get_event(event.id)).event == event
        await again.ping()
    finally:
        await again.close()
    await store.ping()
