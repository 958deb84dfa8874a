"""Store contract, tasks: registration and its labels, polling claims, held events settled."""

from __future__ import annotations

import asyncio

import msgspec
import pytest

from tests.store_contract.samples import RAW, T0, make_event, route_to
from vidhook.receiver.store.records import EventFilter, PollPlan


def _plan(next_at: float = T0, interval: float = 10.0) -> PollPlan:
    return PollPlan(next_at=next_at, interval=interval, deadline=T0 + 1800)


async def test_a_registered_task_lends_its_labels_to_every_event(store):
    task = await store.register_task("vg", "t1", {"end_user_id": "u-7"}, now=T0, poll=None)
    assert (task.status, task.labels, task.poll) == ("registered", {"end_user_id": "u-7"}, False)
    again = await store.register_task("vg", "t1", {"team": "ads"}, now=T0 + 1, poll=None)
    assert again.labels == {"end_user_id": "u-7", "team": "ads"}
    seen = []

    def route(event):
        seen.append(event.labels)
        return [("all", "ops")]

    first = await store.ingest(make_event("t1", "pending", labels={"team": "x"}), RAW, route)
    assert first.stale is False  # a registered task takes any first report as news
    assert first.event.labels == {"end_user_id": "u-7", "team": "ads"}
    assert seen == [first.event.labels]
    assert (await store.get_task("vg", "t1")).status == "pending"
    assert await store.get_task("vg", "nope") is None


async def test_polling_is_claimed_once_rescheduled_and_stopped(store):
    await store.register_task("vg", "late", {}, now=T0, poll=_plan(T0 + 5))
    await store.register_task("vg", "early", {}, now=T0, poll=_plan(T0 + 1))
    await store.register_task("ark", "other", {}, now=T0, poll=_plan(T0))
    assert await store.next_poll_at() == T0
    assert await store.claim_polls("vg", T0, 30, 10) == []
    [first] = await store.claim_polls("vg", T0 + 5, 30, 1)  # the earliest due goes first
    [second] = await store.claim_polls("vg", T0 + 5, 30, 10)
    assert (first.task_id, second.task_id) == ("early", "late")
    assert first.poll_next_at == second.poll_next_at == T0 + 35
    assert await store.claim_polls("vg", T0 + 6, 30, 10) == []
    await store.set_poll("vg", "early", next_at=T0 + 7, errors=2)
    early = await store.get_task("vg", "early")
    assert (early.poll_next_at, early.poll_errors, early.poll_interval) == (T0 + 7, 2, 10.0)
    await store.set_poll("vg", "early", next_at=T0 + 8, errors=0, interval=4.0)
    assert (await store.get_task("vg", "early")).poll_interval == 4.0
    await store.set_poll("vg", "late", next_at=None, errors=0)
    assert (await store.get_task("vg", "late")).poll is False
    assert [t.task_id for t in await store.list_tasks("vg", "polling", 10, now=T0)] == ["early"]
    assert len(await store.list_tasks(None, None, 10, now=T0)) == 3


async def test_two_instances_never_poll_the_same_task_at_once(store, open_another):
    other = await open_another()
    for n in range(30):
        await store.register_task("vg", f"t{n}", {}, now=T0, poll=_plan())
    taken = []
    for _ in range(10):
        batches = await asyncio.gather(
            store.claim_polls("vg", T0, 60, 4), other.claim_polls("vg", T0, 60, 4)
        )
        taken += [t.task_id for batch in batches for t in batch]
    assert sorted(taken) == sorted(f"t{n}" for n in range(30))


async def test_a_terminal_report_ends_polling_and_a_plan_does_not_restart_it(store):
    await store.register_task("vg", "t1", {}, now=T0, poll=_plan())
    await store.ingest(make_event("t1", "processing"), RAW, route_to("ops"))
    assert (await store.get_task("vg", "t1")).poll is True
    await store.ingest(make_event("t1", "completed"), RAW, route_to("ops"))
    assert (await store.get_task("vg", "t1")).poll is False
    task = await store.register_task("vg", "t1", {"a": "b"}, now=T0, poll=_plan())
    assert (task.poll, task.status, task.labels) == (False, "completed", {"a": "b"})
    assert await store.next_poll_at() is None


async def test_a_confirmed_event_takes_the_providers_account_and_its_routes(store):
    woken = asyncio.Event()
    store.on_new_deliveries(woken.set)
    held = await store.ingest(make_event("t1"), RAW, route_to("ops", "app"), hold=True)
    assert [s.event.id for s in await store.held_events(10)] == [held.event.id]
    told = msgspec.structs.replace(
        held.event,
        model="the-providers-model",
        video_urls=["https://cdn.example.com/genuine.mp4"],
        verified_by=["token", "provider-api"],
    )
    assert await store.release_held(told, [("rule-app", "app"), ("rule-log", "log")]) == 2
    await asyncio.wait_for(woken.wait(), timeout=10)
    stored = await store.get_event(held.event.id)
    assert (stored.held, stored.event) == (False, told)
    rows = await store.deliveries_of(held.event.id)
    assert sorted((r.sink, r.rule, r.state) for r in rows) == [
        ("app", "rule-app", "pending"),
        ("log", "rule-log", "pending"),
    ]
    assert await store.list_events(EventFilter(model="the-providers-model"), 10) == [stored]
    assert await store.held_events(10) == []
    assert await store.release_held(told, [("rule-ops", "ops")]) == 0
    assert len(await store.deliveries_of(held.event.id)) == 2


async def test_a_contradicted_event_is_kept_unsent_and_frees_its_slot(store):
    await store.register_task("vg", "t1", {}, now=T0, poll=_plan())
    await store.ingest(make_event("t1", "processing"), RAW, route_to("ops"))
    forged = await store.ingest(make_event("t1", "completed"), RAW, route_to("ops"), hold=True)
    assert (await store.get_task("vg", "t1")).poll is False
    assert await store.reject_held(forged.event.id, "provider says processing", now=T0 + 9)
    stored = await store.get_event(forged.event.id)
    assert (stored.held, stored.note) == (False, "provider says processing")
    [row] = await store.deliveries_of(forged.event.id)
    assert (row.state, row.last_error) == ("rejected", "provider says processing")
    task = await store.get_task("vg", "t1")
    assert (task.status, task.poll, task.poll_next_at) == ("processing", True, T0 + 9)
    genuine = await store.ingest(make_event("t1", "completed"), RAW, route_to("ops"))
    assert (genuine.duplicate, genuine.stale, genuine.deliveries) == (False, False, 1)
    assert await store.count_events(EventFilter(status="completed")) == 1
    assert await store.reject_held(forged.event.id, "again", now=T0) is False


async def test_query_turns_are_spaced_shared_by_instances_and_paused(store, open_another):
    other = await open_another()
    turns = [await (store, other)[n % 2].take_query_turn("k", T0, 0.5, 30) for n in range(4)]
    assert turns == pytest.approx([T0, T0 + 0.5, T0 + 1.0, T0 + 1.5])
    assert await store.take_query_turn("k2", T0, 0.5, 30) == pytest.approx(T0)  # keys apart
    # Idle time is not saved up for a burst.
    assert await store.take_query_turn("k", T0 + 100, 0.5, 30) == pytest.approx(T0 + 100)
    await other.pause_queries("k", T0 + 200)
    assert await store.take_query_turn("k", T0 + 101, 0.5, 30) is None  # too far: none taken
    assert await store.take_query_turn("k", T0 + 180, 0.5, 30) == pytest.approx(T0 + 200)
    await store.pause_queries("k", T0 + 150)  # an earlier pause shortens nothing
    assert await store.take_query_turn("k", T0 + 180, 0.5, 30) == pytest.approx(T0 + 200.5)


async def test_query_turns_asked_at_once_are_all_different(store, open_another):
    other = await open_another()
    turns = await asyncio.gather(
        *(s.take_query_turn("k", T0, 0.25, 30) for _ in range(10) for s in (store, other))
    )
    assert sorted(turns) == pytest.approx([T0 + 0.25 * n for n in range(20)])
