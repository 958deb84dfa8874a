"""Store contract, delivery: claims and leases, attempts, retries, dead letters, release."""

from __future__ import annotations

import asyncio
import time

from tests.store_contract.samples import RAW, T0, at, make_event, route_to
from vidhook.receiver.store.records import AttemptRecord


async def _events(store, count: int, *sinks: str) -> list[str]:
    ids = []
    for n in range(count):
        result = await store.ingest(make_event(f"t{n}"), RAW, route_to(*sinks or ("ops",)))
        ids.append(result.event.id)
    return ids


def _attempt(delivery_id: str, number: int, outcome: str, next_at: float | None = None):
    return AttemptRecord(
        delivery_id=delivery_id,
        number=number,
        at=at(11, number),
        outcome=outcome,
        latency_ms=12.5,
        status_code=200 if outcome == "delivered" else 503,
        error=None if outcome == "delivered" else "HTTP 503",
        response="ok" if outcome == "delivered" else "busy",
        next_at=next_at,
    )


async def test_a_claim_carries_what_the_sink_needs(store):
    [event_id] = await _events(store, 1, "ops", "app")
    [due] = await store.claim("ops", "w1", T0, 30, 10)
    assert due.event_id == event_id
    assert (due.sink, due.attempts, due.replay) == ("ops", 0, False)
    assert due.event == (await store.get_event(event_id)).event
    assert due.raw_body == RAW.body
    assert due.webhook_id.startswith("msg_")
    assert [d.sink for d in await store.claim("app", "w1", T0, 30, 10)] == ["app"]


async def test_a_claim_takes_at_most_limit_oldest_first(store):
    await _events(store, 5)
    first = await store.claim("ops", "w1", T0, 30, 2)
    rest = await store.claim("ops", "w1", T0, 30, 10)
    assert (len(first), len(rest)) == (2, 3)
    assert {d.id for d in first}.isdisjoint(d.id for d in rest)


async def test_a_leased_delivery_is_not_claimed_again_until_the_lease_expires(store):
    await _events(store, 1)
    [due] = await store.claim("ops", "w1", T0, 30, 10)
    assert await store.claim("ops", "w2", T0 + 29, 30, 10) == []
    assert await store.next_due(T0 + 29) is None
    [again] = await store.claim("ops", "w2", T0 + 31, 30, 10)
    assert again.id == due.id


async def test_two_instances_claiming_at_once_never_share_a_delivery(store, open_another):
    other = await open_another()
    await _events(store, 40)
    owners = [(store, "w1"), (other, "w2"), (store, "w3"), (other, "w4")]
    taken: list[str] = []
    for _ in range(20):
        batches = await asyncio.gather(
            *(target.claim("ops", owner, T0, 30, 3) for target, owner in owners)
        )
        taken += [d.id for batch in batches for d in batch]
        if not any(batches):
            break
    assert len(taken) == 40
    assert len(set(taken)) == 40


async def test_a_delivered_attempt_is_recorded_and_final(store):
    [event_id] = await _events(store, 1)
    [due] = await store.claim("ops", "w1", T0, 30, 10)
    await store.finish(_attempt(due.id, 1, "delivered"))
    [row] = await store.deliveries_of(event_id)
    assert (row.state, row.attempts, row.last_error) == ("delivered", 1, None)
    [attempt] = await store.attempts_of(event_id)
    assert attempt == _attempt(due.id, 1, "delivered")
    assert await store.claim("ops", "w1", T0 + 1000, 30, 10) == []


async def test_a_retry_waits_for_its_time(store):
    [event_id] = await _events(store, 1)
    [due] = await store.claim("ops", "w1", T0, 30, 10)
    await store.finish(_attempt(due.id, 1, "retry", next_at=T0 + 60))
    [row] = await store.deliveries_of(event_id)
    assert (row.state, row.attempts, row.next_at, row.last_error) == (
        "pending",
        1,
        T0 + 60,
        "HTTP 503",
    )
    assert await store.next_due(T0) == T0 + 60
    assert await store.claim("ops", "w1", T0 + 59, 30, 10) == []
    [again] = await store.claim("ops", "w2", T0 + 60, 30, 10)
    assert again.attempts == 1
    await store.finish(_attempt(due.id, 2, "delivered"))
    assert [a.outcome for a in await store.attempts_of(event_id)] == ["retry", "delivered"]


async def test_dead_deliveries_are_listed_and_retried(store):
    event_ids = await _events(store, 3, "ops", "app")
    for sink in ("ops", "app"):
        for due in await store.claim(sink, "w1", T0, 30, 10):
            await store.finish(_attempt(due.id, 1, "dead"))
    dead = await store.list_deliveries("dead", None, None, 10)
    assert len(dead) == 6
    one = dead[0]
    assert await store.retry_delivery(one.id, T0 + 5) is True
    assert (await store.get_delivery(one.id)).state == "pending"
    assert await store.retry_delivery(one.id, T0 + 5) is True  # idle pending: due now again
    assert await store.retry_dead("ops", T0 + 5) == (2 if one.sink == "ops" else 3)
    assert await store.retry_dead(None, T0 + 5) == (3 if one.sink == "ops" else 2)
    assert await store.list_deliveries("dead", None, None, 10) == []
    claimed = [d for sink in ("ops", "app") for d in await store.claim(sink, "w2", T0 + 5, 30, 10)]
    assert {d.event_id for d in claimed} == set(event_ids)


async def test_a_delivery_being_sent_is_not_retried_under_the_worker(store):
    await _events(store, 1)
    [due] = await store.claim("ops", "w1", T0, 30, 10)
    assert await store.retry_delivery(due.id, T0 + 1) is False
    assert await store.retry_delivery("no-such-delivery", T0 + 1) is False


async def test_release_gives_every_lease_back(store):
    await _events(store, 3)
    assert len(await store.claim("ops", "w1", T0, 30, 10)) == 3
    await store.release("w2")
    assert await store.claim("ops", "w3", T0, 30, 10) == []
    await store.release("w1")
    assert len(await store.claim("ops", "w3", T0, 30, 10)) == 3


async def test_outbox_depth_and_sink_stats(store):
    assert await store.outbox_depth() == (0, None)
    await _events(store, 3, "ops", "app")
    [ops_due, *_] = await store.claim("ops", "w1", T0, 30, 10)
    await store.finish(_attempt(ops_due.id, 1, "delivered"))
    [app_due, *_] = await store.claim("app", "w1", T0, 30, 10)
    await store.finish(_attempt(app_due.id, 1, "dead"))
    depth, oldest_stored = await store.outbox_depth()
    # The oldest pending delivery's creation time, not its next_at (0 for a new delivery).
    assert depth == 4 and oldest_stored is not None
    assert abs(oldest_stored - time.time()) < 600
    stats = {s.sink: s for s in await store.sink_stats()}
    assert (stats["ops"].pending, stats["ops"].delivered, stats["ops"].dead) == (2, 1, 0)
    assert stats["ops"].last_success == at(11, 1)
    assert (stats["app"].pending, stats["app"].dead) == (2, 1)
    assert (stats["app"].last_failure, stats["app"].last_error) == (at(11, 1), "HTTP 503")
    assert stats["app"].last_success is None


async def test_lease_owners_and_when_the_next_delivery_of_some_sinks_is_due(store):
    await _events(store, 2, "ops", "app")
    assert await store.lease_owners() == []
    await store.claim("ops", "w1", T0, 30, 10)
    assert await store.lease_owners() == ["w1"]
    assert await store.next_due(T0, ["ops"]) is None
    assert await store.next_due(T0, ["app", "other"]) == 0.0
    assert await store.next_due(T0, []) is None
    assert await store.next_due(T0) == 0.0
