"""Store contract, grouping: events a route groups wait in one durable group per (rule, sink,
key), and a flush turns each due group into one delivery that carries the group."""

from __future__ import annotations

import asyncio

import pytest

from tests.store_contract.samples import MEMORY, RAW, T0, make_event
from vidhook.receiver.store import open_store
from vidhook.receiver.store.records import GroupJoin, Routes
from vidhook.receiver.store.store_groups import Flushed

KEY = '[["source","vg"]]'


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def timed(store_url):
    """A store on a fresh database with a clock the test moves, and an opener for more."""
    clock = Clock()
    opened = []

    async def opener():
        if store_url == MEMORY and opened:
            pytest.skip("an in-memory database belongs to one store")
        store = open_store(store_url, clock=clock)
        await store.open()
        opened.append(store)
        return store

    store = await opener()
    yield store, clock, opener
    for one in reversed(opened):
        await one.close()


def grouped(key: str = KEY, sink: str = "slack", wait: float = 30, every: float = 300):
    """A router: one delivery to `app`, and a place in `sink`'s group of `key`."""

    def route(event):
        join = GroupJoin(rule="r", sink=sink, key=key, wait=wait, every=every)
        return Routes([("r", "app")], [join])

    return route


async def _ingest(store, count, route=None, prefix="t"):
    ids = []
    for n in range(count):
        result = await store.ingest(make_event(f"{prefix}{n}", "failed"), RAW, route or grouped())
        assert result.deliveries == 2
        ids.append(result.event.id)
    return ids


async def test_grouped_events_wait_and_flush_into_one_delivery(timed):
    store, _, _ = timed
    ids = await _ingest(store, 3)
    assert len(await store.claim("app", "w", T0, 30, 10)) == 3
    assert await store.claim("slack", "w", T0, 30, 10) == []
    assert await store.group_counts() == (1, T0 + 30)
    assert await store.flush_groups(T0 + 29) == []
    assert await store.flush_groups(T0 + 30) == [Flushed("slack", 3)]
    assert await store.group_counts() == (0, None)
    [due] = await store.claim("slack", "w", T0 + 30, 30, 10)
    assert due.event_id == ids[0] and due.group_id is not None
    batch = await store.group_batch(due.group_id, first=2)
    assert (batch.rule, batch.key, batch.count) == ("r", [("source", "vg")], 3)
    assert [e.id for e in batch.events] == ids[:2]
    assert batch.since == batch.until == make_event("x").received_at
    assert await store.flush_groups(T0 + 1000) == []


async def test_events_after_a_flush_wait_for_the_interval_then_for_the_wait(timed):
    store, clock, _ = timed
    await _ingest(store, 1)
    await store.flush_groups(T0 + 30)
    clock.now = T0 + 40
    await _ingest(store, 2, prefix="late")
    assert await store.group_counts() == (1, T0 + 330)
    assert await store.flush_groups(T0 + 329) == []
    assert await store.flush_groups(T0 + 330) == [Flushed("slack", 2)]
    clock.now = T0 + 2000
    await _ingest(store, 1, prefix="quiet")
    assert await store.group_counts() == (1, T0 + 2030)


async def test_each_rule_sink_and_key_has_its_own_group(timed):
    store, _, _ = timed
    await _ingest(store, 2)
    await _ingest(store, 1, grouped(key='[["source","other"]]'), prefix="o")
    await _ingest(store, 1, grouped(sink="mail"), prefix="m")
    assert (await store.group_counts())[0] == 3
    flushed = await store.flush_groups(T0 + 30)
    assert sorted((f.sink, f.size) for f in flushed) == [("mail", 1), ("slack", 1), ("slack", 2)]


async def test_a_held_event_joins_its_groups_when_released(timed):
    store, _, _ = timed
    held = await store.ingest(make_event("h", "failed"), RAW, grouped(), hold=True)
    assert await store.group_counts() == (0, None)
    assert await store.release_held(held.event, grouped()(held.event)) == 2
    assert await store.group_counts() == (1, T0 + 30)
    assert len(await store.claim("app", "w", T0, 30, 10)) == 1


async def test_two_stores_flush_each_group_once(timed):
    store, _, opener = timed
    other = await opener()
    for n in range(20):
        key = f'[["task","{n}"]]'
        await store.ingest(make_event(f"k{n}", "failed"), RAW, grouped(key=key))
    results = await asyncio.gather(
        *(one.flush_groups(T0 + 30, limit=3) for _ in range(5) for one in (store, other))
    )
    while (await store.group_counts())[0]:
        results.append(await other.flush_groups(T0 + 30, limit=3))
    assert sum(len(flushed) for flushed in results) == 20
    assert len(await store.claim("slack", "w", T0 + 30, 30, 100)) == 20
