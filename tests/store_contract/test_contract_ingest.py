"""Store contract, ingest: dedupe, never backwards, event and outbox in one transaction."""

from __future__ import annotations

import asyncio

import msgspec
import pytest

from tests.store_contract.samples import RAW, make_event, route_to
from vidhook.receiver.event import Event, new_id
from vidhook.receiver.store.records import EventFilter


async def test_a_new_event_is_stored_with_its_raw_request(store):
    event = make_event("t1", labels={"team": "video"})
    result = await store.ingest(event, RAW, route_to("ops"))
    assert (result.duplicate, result.stale, result.deliveries) == (False, False, 1)
    assert result.event == event
    stored = await store.get_event(event.id)
    assert stored.event == event
    assert (stored.stale, stored.held) == (False, False)
    assert await store.get_raw(event.id) == RAW


async def test_a_repeat_of_source_task_and_status_is_a_duplicate(store):
    first = await store.ingest(make_event("t1"), RAW, route_to("ops"))
    routed = []

    def route(event: Event) -> list[tuple[str, str]]:
        routed.append(event)
        return [("again", "ops")]

    again = await store.ingest(make_event("t1"), RAW, route)
    assert again.duplicate is True
    assert again.deliveries == 0
    assert again.event.id == first.event.id
    assert routed == []
    assert len(await store.list_events(EventFilter(), 10)) == 1
    assert len(await store.deliveries_of(first.event.id)) == 1


async def test_the_same_task_id_in_another_source_or_status_is_new(store):
    await store.ingest(make_event("t1", "processing"), RAW, route_to("ops"))
    other_source = await store.ingest(make_event("t1", source="other"), RAW, route_to("ops"))
    later_status = await store.ingest(make_event("t1", "completed"), RAW, route_to("ops"))
    assert not other_source.duplicate
    assert not later_status.duplicate and not later_status.stale
    assert await store.count_events(EventFilter()) == 3


async def test_a_task_never_moves_backwards(store):
    for status in ("pending", "processing", "completed"):
        result = await store.ingest(make_event("t1", status), RAW, route_to("ops"))
        assert (result.stale, result.deliveries) == (False, 1), status
    await store.ingest(make_event("t2", "completed"), RAW, route_to("ops"))
    for late in ("processing", "pending", "failed"):
        result = await store.ingest(make_event("t2", late), RAW, route_to("ops"))
        assert (result.duplicate, result.stale, result.deliveries) == (False, True, 0), late
        stored = await store.get_event(result.event.id)
        assert stored.stale is True
        assert await store.deliveries_of(result.event.id) == []
    # A repeat of a stale status is a duplicate that says it was stale.
    repeat = await store.ingest(make_event("t2", "processing"), RAW, route_to("ops"))
    assert (repeat.duplicate, repeat.stale) == (True, True)


async def test_deliveries_are_committed_with_the_event(store):
    event = make_event("t1")
    result = await store.ingest(event, RAW, route_to("ops", "app"))
    assert result.deliveries == 2
    rows = await store.deliveries_of(event.id)
    assert sorted((r.rule, r.sink, r.state, r.replay, r.attempts) for r in rows) == [
        ("rule-app", "app", "pending", False, 0),
        ("rule-ops", "ops", "pending", False, 0),
    ]
    assert all(r.webhook_id == f"msg_{r.id.replace('-', '')}" for r in rows)
    assert len({r.webhook_id for r in rows}) == 2


async def test_a_router_that_fails_leaves_nothing_behind(store):
    def broken(event: Event) -> list[tuple[str, str]]:
        raise RuntimeError("rule bug")

    with pytest.raises(RuntimeError):
        await store.ingest(make_event("t1"), RAW, broken)
    assert await store.count_events(EventFilter()) == 0
    retried = await store.ingest(make_event("t1"), RAW, route_to("ops"))
    assert (retried.duplicate, retried.deliveries) == (False, 1)


async def test_held_events_keep_their_deliveries_back(store):
    event = make_event("t1")
    result = await store.ingest(event, RAW, route_to("ops"), hold=True)
    assert result.deliveries == 1
    assert (await store.get_event(event.id)).held is True
    assert [r.state for r in await store.deliveries_of(event.id)] == ["held"]
    assert await store.claim("ops", "w1", 2e9, 30, 10) == []


async def test_new_deliveries_wake_the_workers(store):
    woken = asyncio.Event()
    store.on_new_deliveries(woken.set)
    await store.ingest(make_event("t1"), RAW, route_to("ops"))
    await asyncio.wait_for(woken.wait(), timeout=10)


async def test_text_with_nul_characters_is_kept_exactly(store):
    event = make_event("t\x00nul", labels={"note": "a\x00b"})
    result = await store.ingest(event, RAW, route_to("ops"))
    assert (await store.get_event(event.id)).event == event
    assert (await store.ingest(make_event("t\x00nul"), RAW, route_to("ops"))).duplicate
    assert result.deliveries == 1


async def test_identical_callbacks_to_two_instances_make_one_event(store, open_another):
    other = await open_another()
    for n in range(20):
        copies = [make_event(f"race-{n}") for _ in range(4)]
        results = await asyncio.gather(
            *(
                target.ingest(copy, RAW, route_to("ops"))
                for target, copy in zip([store, other, store, other], copies, strict=True)
            )
        )
        fresh = [r for r in results if not r.duplicate]
        assert len(fresh) == 1, n
        assert {r.event.id for r in results} == {fresh[0].event.id}
    assert await store.count_events(EventFilter()) == 20
    assert sum(s.pending for s in await store.sink_stats()) == 20


async def test_racing_statuses_never_route_a_backwards_step(store, open_another):
    other = await open_another()
    for n in range(20):
        late = make_event(f"race-{n}", "processing")
        done = make_event(f"race-{n}", "completed")
        first, second = (store, other) if n % 2 else (other, store)
        progress, completed = await asyncio.gather(
            first.ingest(late, RAW, route_to("ops")), second.ingest(done, RAW, route_to("ops"))
        )
        assert completed.stale is False and completed.deliveries == 1
        # `processing` is routed only if it committed first; stale otherwise.
        assert progress.deliveries == (0 if progress.stale else 1)


async def test_labels_round_trip_and_events_decode_alike(store):
    labels = {"end_user_id": "u-1", "team": "ads", "emoji": "\N{CLAPPER BOARD}"}
    event = msgspec.structs.replace(make_event("t1", labels=labels), id=new_id())
    await store.ingest(event, RAW, route_to("ops"))
    [listed] = await store.list_events(EventFilter(labels={"team": "ads"}), 10)
    assert listed.event.labels == labels
