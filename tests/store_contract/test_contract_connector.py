"""Store contract, what the one Store over two connectors promises: the same named statements
in both dialects, the clock injected, filters passed as parameters, readiness as a commit."""

from __future__ import annotations

import asyncio
import re
from importlib import resources

import pytest

from tests.store_contract.samples import RAW, T0, make_event, route_to
from vidhook.receiver.errors import StoreUnavailable
from vidhook.receiver.store import open_store
from vidhook.receiver.store.records import EventFilter, PollPlan


def _names(dialect: str) -> set[str]:
    folder = resources.files("vidhook.receiver.store")
    text = "".join(
        folder.joinpath(f"{dialect}{part}.sql").read_text(encoding="utf-8")
        for part in ("", "_tasks")
    )
    return set(re.findall(r"^-- name: (\w+)", text, re.MULTILINE))


def test_both_dialects_name_the_same_statements():
    assert _names("sqlite") == _names("postgres")
    assert {"insert_event", "claim", "readiness_probe"} <= _names("sqlite")


def _no_clock() -> float:
    raise AssertionError("the store read its clock where the caller gave the time")


async def test_where_the_caller_gives_the_time_the_clock_is_not_read(store_url):
    store = open_store(store_url, clock=_no_clock)
    await store.open()
    try:
        plan = PollPlan(next_at=T0, interval=5, deadline=T0 + 60)
        task = await store.register_task("vg", "t1", {"a": "1"}, now=T0, poll=plan)
        assert task.updated_at == "2023-11-14T22:13:20.000Z"
        assert await store.claim_polls("vg", T0, 30, 10)
        await store.set_poll("vg", "t1", next_at=T0 + 5, errors=0)
        assert await store.claim("ops", "w1", T0, 30, 10) == []
        assert await store.retry_dead(None, T0) == 0
    finally:
        await store.close()


async def test_times_the_store_stamps_come_from_its_clock(store_url):
    store = open_store(store_url, clock=lambda: T0 + 3600)
    await store.open()
    try:
        held = await store.ingest(make_event("t1"), RAW, route_to("ops"), hold=True)
        task = await store.get_task("vg", "t1")
        assert task is not None and task.updated_at == "2023-11-14T23:13:20.000Z"
        await store.release_held(held.event, [("rule-ops", "ops")])
        (delivery,) = await store.deliveries_of(held.event.id)
        assert delivery.updated_at == "2023-11-14T23:13:20.000Z"
        await store.ready()
    finally:
        await store.close()


async def test_filter_values_are_parameters_never_sql(store):
    quoted = {"it's": 'a "b" \' c', "%": "_"}
    event = make_event("t1", labels=quoted)
    await store.ingest(event, RAW, route_to("ops"))
    hostile = "vg' OR '1'='1"
    assert await store.list_events(EventFilter(source=hostile), 10) == []
    assert await store.count_events(EventFilter(source=hostile)) == 0
    found = await store.list_events(EventFilter(labels=quoted), 10)
    assert [item.event.id for item in found] == [event.id]
    assert await store.count_events(EventFilter(labels={"it's": "a"})) == 0
    assert await store.count_events(EventFilter(sink="ops", labels={"%": "_"})) == 1


async def test_a_label_with_nul_is_found_by_its_own_value(store):
    event = make_event("t1", labels={"no\x00te": "a\x00b"})
    await store.ingest(event, RAW, route_to("ops"))
    found = await store.list_events(EventFilter(labels={"no\x00te": "a\x00b"}), 10)
    assert [item.event.id for item in found] == [event.id]


async def test_ready_commits_and_a_closed_store_is_not_ready(store_url):
    store = open_store(store_url)
    await store.open()
    await store.ready()
    await store.ready()
    await store.close()
    with pytest.raises(StoreUnavailable):
        await store.ready()


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
async def test_an_in_memory_store_is_one_database(url):
    store = open_store(url)
    await store.open()
    try:
        event = make_event("t1")
        await store.ingest(event, RAW, route_to("ops"))
        assert [item.event.id for item in await store.list_events(EventFilter(), 10)] == [event.id]
        (claimed,) = await store.claim("ops", "w1", T0, 30, 10)
        assert claimed.event == event
    finally:
        await store.close()


async def test_a_write_that_fails_fails_alone_and_stores_nothing(store):
    def broken_route(event):
        raise ValueError("this rule is wrong")

    events = [make_event(f"t{i}") for i in range(3)]
    routes = [route_to("ops"), broken_route, route_to("ops")]
    outcomes = await asyncio.gather(
        *(store.ingest(e, RAW, r) for e, r in zip(events, routes, strict=True)),
        return_exceptions=True,
    )
    assert isinstance(outcomes[1], ValueError)
    for outcome, event in ((outcomes[0], events[0]), (outcomes[2], events[2])):
        assert outcome.event == event and outcome.deliveries == 1
    stored = await store.list_events(EventFilter(), 10)
    assert {item.event.task_id for item in stored} == {"t0", "t2"}
    assert await store.get_task("vg", "t1") is None
