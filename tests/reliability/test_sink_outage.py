"""Outage drill: a sink that refuses connections, then answers 503, then recovers, receives
every event exactly once per delivery id (webhook-id)."""

from __future__ import annotations

import json
from collections import Counter

from drive import SOURCE_CONFIG, eventually, http_sink, post_callbacks, rule
from sink_endpoint import Endpoint
from sink_servers import Received, Reply, free_port

# Short waits that never run out during the drill: the sink must not go dead.
SCHEDULE = (0.05, 0.1, 0.2, 0.3) + (0.4,) * 60
BEFORE, DURING = 40, 20  # events sent while the sink refuses, and while it answers 503
FAILING_ANSWERS = 60


async def test_a_sink_that_recovers_gets_every_event_once_per_delivery_id(vidhook_factory):
    failing = [FAILING_ANSWERS]

    def flaky(_: Received) -> Reply:
        failing[0] -= 1
        return Reply(503, b"maintenance") if failing[0] >= 0 else Reply()

    sink = Endpoint(flaky, port=free_port())
    vidhook = await vidhook_factory(
        SOURCE_CONFIG
        # Retries, not the circuit breaker, are under test: the sink is never paused.
        + http_sink("app", sink.url, SCHEDULE, concurrency=4, pause_after=0)
        + rule("all", "app")
    )
    store = vidhook.services.store
    sent = await post_callbacks(vidhook.client, BEFORE, prefix="before")

    async def each_refused_twice() -> bool:
        tried = Counter([a.delivery_id for e in sent for a in await store.attempts_of(e)])
        return len(tried) == BEFORE and min(tried.values()) >= 2

    await eventually(each_refused_twice)
    async with sink:
        sent += await post_callbacks(vidhook.client, DURING, prefix="during")

        async def all_delivered() -> bool:
            rows = [row for e in sent for row in await store.deliveries_of(e)]
            return all(row.state == "delivered" for row in rows)

        await eventually(all_delivered, within=60)

    deliveries = [row for event_id in sent for row in await store.deliveries_of(event_id)]
    assert len(deliveries) == BEFORE + DURING
    delivered = Counter(sink.delivered())
    assert set(delivered) == {row.webhook_id for row in deliveries}
    assert set(delivered.values()) == {1}
    # Every request, failed or not, carried the webhook-id of its own event's delivery.
    event_of = {row.webhook_id: row.event_id for row in deliveries}
    for request in sink.received:
        assert json.loads(request.body)["id"] == event_of[request.headers["webhook-id"]]
    assert {json.loads(r.body)["id"] for r, status in sink.answered if status == 200} == set(sent)
    statuses = Counter(status for _, status in sink.answered)
    assert statuses[503] == FAILING_ANSWERS
    tried = [a for event_id in sent for a in await store.attempts_of(event_id)]
    assert any(a.status_code is None for a in tried)  # refused connections were recorded
    assert not [a for a in tried if a.outcome == "dead"]
