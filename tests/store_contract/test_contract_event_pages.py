"""Store contract, the events listing as the dashboard pages it: newest first by receipt time,
the cursor after the last row shown, a label filter led by its own index."""

from __future__ import annotations

from tests.store_contract.samples import RAW, at, make_event, route_to
from vidhook.receiver.store.records import EventFilter


async def _out_of_order(store) -> list[str]:
    """Six events whose receipt times run against their ids' order (an injected clock may
    do that); ids in receipt order, oldest first."""
    made = []
    for n in range(6):
        labels = {"user": "u1" if n % 2 else "u2", "team": "ads"}
        event = make_event(f"t{n}", labels=labels, received_at=at(6 - n, n))
        await store.ingest(event, RAW, route_to("app"))
        made.append(event.id)
    return made[::-1]


async def _pages(store, where: EventFilter, size: int) -> list[str]:
    seen: list[str] = []
    while page := await store.list_events(where, size):
        seen += [s.event.id for s in page]
        where = EventFilter(**{**_fields(where), "before_id": page[-1].event.id})
    return seen


def _fields(where: EventFilter) -> dict[str, object]:
    return {name: getattr(where, name) for name in where.__struct_fields__}


async def test_pages_run_newest_first_by_receipt_time(store):
    oldest_first = await _out_of_order(store)
    assert await _pages(store, EventFilter(), 4) == oldest_first[::-1]
    assert await _pages(store, EventFilter(source="vg", until=at(5)), 1) == oldest_first[:4][::-1]


async def test_a_label_filter_pages_through_its_events(store):
    oldest_first = await _out_of_order(store)
    u1 = [event_id for n, event_id in enumerate(oldest_first) if n % 2 == 0]
    assert await _pages(store, EventFilter(labels={"user": "u1"}), 2) == u1[::-1]
    both = EventFilter(labels={"team": "ads", "user": "u1"}, since=at(3))
    assert await _pages(store, both, 1) == [i for i in u1[::-1] if i in oldest_first[2:]]
    assert await store.count_events(EventFilter(labels={"user": "u1"})) == 3
    assert await _pages(store, EventFilter(labels={"user": "nobody"}), 2) == []


async def test_a_cursor_whose_event_was_pruned_still_pages_on(store):
    old = make_event("gone", received_at=at(1))
    await store.ingest(old, RAW, route_to())
    kept = make_event("kept", received_at=at(1))
    await store.ingest(kept, RAW, route_to())
    newer = make_event("newer", received_at=at(20))
    await store.ingest(newer, RAW, route_to())
    await store.prune(at(10))
    # the pruned event's id stands for the moment its UUIDv7 holds: now, after both days
    later = await store.list_events(EventFilter(before_id=old.id), 10)
    assert [s.event.id for s in later] == [newer.id]


async def test_event_ids_below_a_bound_are_by_id(store):
    oldest_first = await _out_of_order(store)
    by_id = sorted(oldest_first, reverse=True)
    assert await store.event_ids_below(by_id[1], 3) == by_id[2:5]
