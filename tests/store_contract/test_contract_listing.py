"""Store contract, reading back: listings with cursors and filters, replays, lookups."""

from __future__ import annotations

from tests.store_contract.samples import RAW, T0, at, make_event, route_to
from vidhook.receiver.store.records import AttemptRecord, EventFilter


async def _history(store) -> list[str]:
    """Twelve events over three days, two sources, two teams; ids oldest first."""
    ids = []
    for n in range(12):
        event = make_event(
            f"t{n}",
            "completed" if n % 3 else "failed",
            source="vg" if n % 2 else "ark",
            provider="vibegen" if n % 2 else "ark",
            model="m-fast" if n < 6 else "m-pro",
            labels={"team": "ads" if n % 4 == 0 else "film", "n": str(n)},
            received_at=at(1 + n // 4, n),
        )
        await store.ingest(event, RAW, route_to("ops") if n % 2 else route_to("app"))
        ids.append(event.id)
    return ids


async def test_events_come_newest_first_through_the_cursor(store):
    ids = await _history(store)
    seen: list[str] = []
    where = EventFilter()
    while page := await store.list_events(where, 5):
        seen += [s.event.id for s in page]
        where = EventFilter(before_id=page[-1].event.id)
    assert seen == ids[::-1]


async def test_event_filters(store):
    ids = await _history(store)

    async def listed(**fields) -> list[int]:
        where = EventFilter(**fields)
        found = [ids.index(s.event.id) for s in await store.list_events(where, 100)]
        assert await store.count_events(where) == len(found)
        return sorted(found)

    assert await listed(source="vg") == [1, 3, 5, 7, 9, 11]
    assert await listed(provider="ark", type="task.failed") == [0, 6]
    assert await listed(status="failed") == [0, 3, 6, 9]
    assert await listed(task_id="t7") == [7]
    assert await listed(model="m-pro") == [6, 7, 8, 9, 10, 11]
    assert await listed(since=at(2), until=at(3)) == [4, 5, 6, 7]
    assert await listed(labels={"team": "ads"}) == [0, 4, 8]
    assert await listed(labels={"team": "film", "n": "5"}) == [5]
    assert await listed(labels={"missing": "x"}) == []
    assert await listed(sink="app") == [0, 2, 4, 6, 8, 10]
    assert await listed(source="vg", before_id=ids[5]) == [1, 3]
    assert await store.count_events(EventFilter()) == 12


async def test_deliveries_list_by_state_and_sink_through_the_cursor(store):
    await _history(store)
    [due] = await store.claim("ops", "w1", T0, 30, 1)
    await store.finish(_dead(due.id))  # one dead delivery among eleven pending ones
    assert [d.id for d in await store.list_deliveries("dead", None, None, 10)] == [due.id]
    assert len(await store.list_deliveries("pending", "app", None, 100)) == 6
    seen: list[str] = []
    cursor = None
    while page := await store.list_deliveries(None, None, cursor, 5):
        seen += [d.id for d in page]
        cursor = page[-1].id
    assert len(seen) == 12 and seen == sorted(seen, reverse=True)
    assert (await store.get_delivery(due.id)).state == "dead"
    assert await store.get_delivery("no-such-delivery") is None


async def test_a_replay_adds_new_deliveries_marked_replay(store):
    ids = await _history(store)
    [original] = await store.deliveries_of(ids[1])
    added = await store.add_deliveries(
        ids[1], [(None, "ops"), ("rule-x", "app")], replay=True, now=T0
    )
    assert len(added) == 2
    rows = {r.id: r for r in await store.deliveries_of(ids[1])}
    assert set(rows) == {original.id, *added}
    replays = [rows[i] for i in added]
    assert [(r.sink, r.rule, r.replay, r.state) for r in replays] == [
        ("ops", None, True, "pending"),
        ("app", "rule-x", True, "pending"),
    ]
    webhook_ids = {r.webhook_id for r in rows.values()}
    assert len(webhook_ids) == 3
    due = await store.claim("app", "w1", T0, 30, 100)
    assert [d.replay for d in due if d.event_id == ids[1]] == [True]


async def test_a_replay_of_many_events_commits_at_once(store):
    ids = await _history(store)
    plan = [(event_id, [(None, "ops")]) for event_id in ids[:4]]
    assert await store.add_deliveries_many(plan, replay=True, now=T0) == 4
    assert await store.add_deliveries_many([], replay=True, now=T0) == 0
    for event_id in ids[:4]:
        assert [r.replay for r in await store.deliveries_of(event_id)].count(True) == 1


async def test_unknown_ids_find_nothing(store):
    assert await store.get_event("nope") is None
    assert await store.get_raw("nope") is None
    assert await store.deliveries_of("nope") == []
    assert await store.attempts_of("nope") == []


def _dead(delivery_id: str) -> AttemptRecord:
    return AttemptRecord(
        delivery_id=delivery_id, number=1, at=at(20), outcome="dead", latency_ms=1.0,
        status_code=410, error="HTTP 410 Gone",
    )  # fmt: skip
