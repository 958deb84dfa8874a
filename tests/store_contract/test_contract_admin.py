"""The store's admin reads and writes, on SQLite and PostgreSQL: listings, counts, cursors,
replays, retries, sink stats, the rejection log and pruning."""

from __future__ import annotations

from tests.stored_events import RAW, ingest_many, kill_delivery, make_event
from vidhook.receiver.store.records import EventFilter, Rejection


def route_to(*sinks: str):
    return lambda event: [("rule", sink) for sink in sinks]


async def test_list_events_filters_newest_first_and_counts(store):
    events = [
        make_event(1, labels={"team": "growth"}, model="seedance-1-pro"),
        make_event(2, status="failed", source="evolink", provider="evolink"),
        make_event(3, labels={"team": "core"}, received_at="2025-01-01T00:00:00.000Z"),
    ]
    await ingest_many(store, events)
    listed = await store.list_events(EventFilter(), 10)
    # newest first by receipt time: the third, received in January, comes last
    assert [s.event.id for s in listed] == [events[1].id, events[0].id, events[2].id]
    cases = [
        (EventFilter(source="evolink"), [events[1].id]),
        (EventFilter(type="task.failed"), [events[1].id]),
        (EventFilter(status="completed", labels={"team": "growth"}), [events[0].id]),
        (EventFilter(model="seedance-1-pro"), [events[0].id]),
        (EventFilter(task_id="task-3"), [events[2].id]),
        (EventFilter(since="2025-06-01T00:00:00.000Z"), [events[1].id, events[0].id]),
        (EventFilter(until="2025-06-01T00:00:00.000Z"), [events[2].id]),
        (EventFilter(labels={'we"ird': "x"}), []),
    ]
    for where, expected in cases:
        assert [s.event.id for s in await store.list_events(where, 10)] == expected, where
        assert await store.count_events(where) == len(expected)


async def test_cursor_walks_every_event_once(store):
    events = [make_event(n) for n in range(25)]
    await ingest_many(store, events)
    seen, cursor = [], None
    while True:
        page = await store.list_events(EventFilter(before_id=cursor), 7)
        if not page:
            break
        seen += [s.event.id for s in page]
        cursor = page[-1].event.id
    assert seen == sorted((e.id for e in events), reverse=True)


async def test_events_routed_to_a_sink(store):
    first, second = make_event(1), make_event(2)
    await store.ingest(first, RAW, route_to("out"))
    await store.ingest(second, RAW, route_to("ops"))
    found = await store.list_events(EventFilter(sink="ops"), 10)
    assert [s.event.id for s in found] == [second.id]


async def test_event_detail_reads(store):
    event = make_event(1)
    await store.ingest(event, RAW, route_to("out", "ops"))
    assert (await store.get_event(event.id)).event == event
    assert await store.get_event("nope") is None
    assert await store.get_raw(event.id) == RAW
    deliveries = await store.deliveries_of(event.id)
    assert {d.sink for d in deliveries} == {"out", "ops"}
    assert all(d.state == "pending" and not d.replay for d in deliveries)
    dead = await kill_delivery(store, "ops", "refused")
    attempts = await store.attempts_of(event.id)
    assert [(a.delivery_id, a.outcome, a.error) for a in attempts] == [(dead, "dead", "refused")]


async def test_replay_deliveries_are_new_and_marked(store):
    event = make_event(1)
    await store.ingest(event, RAW, route_to("out"))
    original = (await store.deliveries_of(event.id))[0]
    ids = await store.add_deliveries(event.id, [("rule", "out")], replay=True, now=123.0)
    replayed = await store.get_delivery(ids[0])
    assert replayed.replay and replayed.state == "pending" and replayed.next_at == 123.0
    assert replayed.webhook_id != original.webhook_id
    assert await store.get_delivery("missing") is None


async def test_add_deliveries_many_in_one_commit(store):
    events = [make_event(n) for n in range(3)]
    await ingest_many(store, events)
    woken = []
    store.on_new_deliveries(lambda: woken.append(1))
    plan = [(e.id, [(None, "out"), ("r", "ops")]) for e in events]
    assert await store.add_deliveries_many(plan, replay=True, now=5.0) == 6
    assert woken
    rows = await store.list_deliveries(None, None, None, 100)
    assert len(rows) == 6 and all(r.replay for r in rows)
    assert len({r.webhook_id for r in rows}) == 6


async def test_list_deliveries_by_state_sink_and_cursor(store):
    events = [make_event(n) for n in range(4)]
    await ingest_many(store, events, route_to("out", "ops"))
    dead = await kill_delivery(store, "ops")
    assert [r.id for r in await store.list_deliveries("dead", None, None, 10)] == [dead]
    assert len(await store.list_deliveries("pending", "out", None, 10)) == 4
    first = await store.list_deliveries(None, None, None, 5)
    rest = await store.list_deliveries(None, None, first[-1].id, 5)
    assert len(first) == 5 and len(rest) == 3
    assert not {r.id for r in first} & {r.id for r in rest}


async def test_retry_one_delivery(store):
    event = make_event(1)
    await store.ingest(event, RAW, route_to("ops", "out"))
    dead = await kill_delivery(store, "ops")
    assert await store.retry_delivery(dead, 50.0)
    row = await store.get_delivery(dead)
    assert row.state == "pending" and row.next_at == 50.0 and row.attempts == 1
    # A pending delivery a worker holds is being sent: leave it alone.
    held = await store.claim("out", "worker-a", 100.0, 60.0, 1)
    assert not await store.retry_delivery(held[0].id, 100.0)
    assert not await store.retry_delivery("missing", 100.0)


async def test_retry_dead_by_sink(store):
    await ingest_many(store, [make_event(n) for n in range(3)], route_to("ops", "out"))
    for _ in range(3):
        await kill_delivery(store, "ops")
    await kill_delivery(store, "out")
    assert await store.retry_dead("ops", 10.0) == 3
    assert await store.retry_dead("ops", 10.0) == 0
    assert len(await store.list_deliveries("dead", "out", None, 10)) == 1


async def test_sink_stats(store):
    await ingest_many(store, [make_event(n) for n in range(3)], route_to("ops", "out"))
    await kill_delivery(store, "ops", "refused twice")
    stats = {s.sink: s for s in await store.sink_stats()}
    assert (stats["ops"].pending, stats["ops"].dead, stats["ops"].delivered) == (2, 1, 0)
    assert stats["ops"].last_error == "refused twice" and stats["ops"].last_failure
    assert stats["out"].pending == 3 and stats["out"].last_success is None


async def test_rejection_log_is_bounded_newest_first(store):
    for n in range(5):
        rejection = Rejection(
            at=f"2025-01-01T00:00:0{n}.000Z", source="vibegen", reason="unauthorized",
            status=401, message=f"no {n}", client="10.0.0.1", size=3, head=b"abc",
        )  # fmt: skip
        await store.record_rejection(rejection, keep=3)
    rows = await store.list_rejected(10)
    assert [r.message for r in rows] == ["no 4", "no 3", "no 2"]
    assert rows[0].head == b"abc"


async def test_prune_keeps_pending_events(store):
    old = "2020-01-01T00:00:00.000Z"
    done = make_event(1, received_at=old)
    waiting = make_event(2, received_at=old)
    recent = make_event(3)
    await store.ingest(done, RAW, route_to("ops"))
    await kill_delivery(store, "ops")
    await store.ingest(waiting, RAW, route_to("out"))
    await store.ingest(recent, RAW, route_to("ops"))
    pruned = await store.prune("2024-01-01T00:00:00.000Z")
    assert pruned >= 2  # the raw request and the event of `done`, at least
    assert await store.get_event(done.id) is None
    assert await store.get_delivery((await store.deliveries_of(waiting.id))[0].id)
    assert await store.get_event(waiting.id) is not None
    assert await store.get_raw(waiting.id) is not None
    assert await store.get_event(recent.id) is not None
