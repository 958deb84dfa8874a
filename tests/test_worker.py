"""The delivery worker with real parts: callbacks over HTTP into the real app, a real SQLite
file, and real HTTP sink endpoints on loopback. Attempts are read back from the store."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest
from drive import SOURCE_CONFIG, eventually, http_sink, post_callbacks, rule
from sink_endpoint import Endpoint
from sink_servers import Received, Reply, free_port

from vidhook.receiver.store.records import AttemptRecord


def config(*parts: str) -> str:
    return SOURCE_CONFIG + "\n".join(parts)


def scripted(*replies: Reply) -> Callable[[Received], Reply]:
    """Answer with `replies` in order, then 200."""
    queue = list(replies)
    return lambda _: queue.pop(0) if queue else Reply()


def seconds(at: str) -> float:
    return datetime.fromisoformat(at).timestamp()


async def settled(vidhook, event_id: str, state: str) -> None:
    """Wait until every delivery of the event is in `state`."""

    async def check() -> bool:
        rows = await vidhook.services.store.deliveries_of(event_id)
        return bool(rows) and all(row.state == state for row in rows)

    await eventually(check)


async def attempts(vidhook, event_id: str) -> list[AttemptRecord]:
    return await vidhook.services.store.attempts_of(event_id)


async def test_failed_sends_are_retried_with_backoff_until_delivered(vidhook_factory):
    answers = scripted(Reply(503, b"busy"), Reply(502, b"bad gateway"))
    async with Endpoint(answers) as sink:
        vidhook = await vidhook_factory(
            config(http_sink("app", sink.url, (0.05, 0.1, 0.2)), rule("all", "app"))
        )
        [event_id] = await post_callbacks(vidhook.client, 1)
        await settled(vidhook, event_id, "delivered")
    tried = await attempts(vidhook, event_id)
    assert [(a.number, a.outcome, a.status_code) for a in tried] == [
        (1, "retry", 503),
        (2, "retry", 502),
        (3, "delivered", 200),
    ]
    # Each wait is at least the schedule's delay less its 20 % jitter.
    assert seconds(tried[1].at) - seconds(tried[0].at) >= 0.05 * 0.8 - 0.001
    assert seconds(tried[2].at) - seconds(tried[1].at) >= 0.1 * 0.8 - 0.001
    assert len({request.headers["webhook-id"] for request in sink.received}) == 1


@pytest.mark.parametrize("status", [429, 503])
async def test_retry_after_is_honoured_over_a_shorter_schedule(vidhook_factory, status):
    answers = scripted(Reply(status, b"slow down", headers={"Retry-After": "1"}))
    async with Endpoint(answers) as sink:
        vidhook = await vidhook_factory(config(http_sink("app", sink.url), rule("all", "app")))
        [event_id] = await post_callbacks(vidhook.client, 1)
        await settled(vidhook, event_id, "delivered")
    first, second = await attempts(vidhook, event_id)
    assert (first.outcome, first.status_code, second.outcome) == ("retry", status, "delivered")
    assert seconds(second.at) - seconds(first.at) >= 1.0 - 0.002


@pytest.mark.parametrize("asked", ["99999999999", "9" * 400])
async def test_a_retry_after_beyond_a_day_is_held_to_a_day(vidhook_factory, asked):
    async with Endpoint(scripted(Reply(503, headers={"Retry-After": asked}))) as sink:
        vidhook = await vidhook_factory(config(http_sink("app", sink.url), rule("all", "app")))
        [event_id] = await post_callbacks(vidhook.client, 1)

        async def tried_once() -> bool:
            return len(await attempts(vidhook, event_id)) == 1

        await eventually(tried_once)
    [attempt] = await attempts(vidhook, event_id)
    [delivery] = await vidhook.services.store.deliveries_of(event_id)
    assert delivery.state == "pending"
    assert 0 < delivery.next_at - seconds(attempt.at) <= 86400 + 60


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 422])
async def test_final_4xx_is_dead_after_one_attempt(vidhook_factory, status):
    answers = scripted(Reply(status, b"no such hook"))
    async with Endpoint(answers) as sink:
        vidhook = await vidhook_factory(config(http_sink("app", sink.url), rule("all", "app")))
        [event_id] = await post_callbacks(vidhook.client, 1)
        await settled(vidhook, event_id, "dead")
        assert len(sink.received) == 1
    [attempt] = await attempts(vidhook, event_id)
    assert (attempt.outcome, attempt.status_code, attempt.response) == (
        "dead",
        status,
        "no such hook",
    )
    assert attempt.error is not None and str(status) in attempt.error
    [delivery] = await vidhook.services.store.deliveries_of(event_id)
    assert (delivery.attempts, delivery.last_error) == (1, attempt.error)


@pytest.mark.parametrize("status", [408, 409, 425, 429])
async def test_retryable_4xx_are_retried(vidhook_factory, status):
    async with Endpoint(scripted(Reply(status))) as sink:
        vidhook = await vidhook_factory(config(http_sink("app", sink.url), rule("all", "app")))
        [event_id] = await post_callbacks(vidhook.client, 1)
        await settled(vidhook, event_id, "delivered")
    tried = await attempts(vidhook, event_id)
    assert [(a.outcome, a.status_code) for a in tried] == [("retry", status), ("delivered", 200)]


async def test_dead_after_the_last_attempt_of_the_schedule(vidhook_factory):
    async with Endpoint(lambda _: Reply(500, b"down")) as sink:
        vidhook = await vidhook_factory(
            config(http_sink("app", sink.url, (0.05, 0.05)), rule("all", "app"))
        )
        [event_id] = await post_callbacks(vidhook.client, 1)
        await settled(vidhook, event_id, "dead")
        assert len(sink.received) == 3
    tried = await attempts(vidhook, event_id)
    assert [a.outcome for a in tried] == ["retry", "retry", "dead"]
    [delivery] = await vidhook.services.store.deliveries_of(event_id)
    assert delivery.attempts == 3
    assert delivery.last_error is not None and "500" in delivery.last_error


async def test_every_attempt_is_recorded_with_time_status_latency_error_and_excerpt(
    vidhook_factory,
):
    sink = Endpoint(scripted(Reply(delay=30), Reply(503, b"x" * 2000)), port=free_port())
    schedule = (0.5, 0.05, 0.05, 0.05, 0.05)
    vidhook = await vidhook_factory(
        config(http_sink("app", sink.url, schedule, timeout=0.5), rule("all", "app"))
    )
    [event_id] = await post_callbacks(vidhook.client, 1)

    async def refused_once() -> bool:
        return len(await attempts(vidhook, event_id)) >= 1

    await eventually(refused_once)
    async with sink:  # the endpoint comes up: a timeout, a 503, then 200
        await settled(vidhook, event_id, "delivered")
    tried = await attempts(vidhook, event_id)
    refused, (timed_out, busy, ok) = tried[:-3], tried[-3:]
    assert refused and all(a.status_code is None and a.error for a in refused)
    assert timed_out.status_code is None
    assert timed_out.error is not None and "0.5" in timed_out.error
    assert timed_out.latency_ms >= 400
    assert (busy.status_code, busy.outcome) == (503, "retry")
    assert busy.response == "x" * 500  # an excerpt, not the whole body
    assert (ok.status_code, ok.outcome, ok.response, ok.error) == (200, "delivered", "ok", None)
    assert [a.number for a in tried] == list(range(1, len(tried) + 1))
    times = [seconds(a.at) for a in tried]
    assert times == sorted(times)
    assert all(a.latency_ms > 0 for a in tried)


async def test_each_sink_keeps_its_own_concurrency_limit(vidhook_factory):
    slow = lambda _: Reply(delay=0.3)  # noqa: E731
    async with Endpoint(slow) as wide, Endpoint(slow) as narrow:
        vidhook = await vidhook_factory(
            config(
                http_sink("wide", wide.url, concurrency=3),
                http_sink("narrow", narrow.url, concurrency=1),
                rule("all", "wide", "narrow"),
            )
        )
        # All at once, so that enough are due together to fill every slot.
        ids = await post_callbacks(vidhook.client, 8, at_once=True)
        for event_id in ids:
            await settled(vidhook, event_id, "delivered")
    assert (len(wide.delivered()), len(narrow.delivered())) == (8, 8)
    assert (wide.peak, narrow.peak) == (3, 1)


async def attempts_at(vidhook, event_ids: list[str], sink: str) -> list[AttemptRecord]:
    """The attempts of the events' deliveries to one sink."""
    store = vidhook.services.store
    wanted = {r.id for e in event_ids for r in await store.deliveries_of(e) if r.sink == sink}
    return [a for e in event_ids for a in await attempts(vidhook, e) if a.delivery_id in wanted]


async def test_a_hanging_sink_does_not_slow_another(vidhook_factory):
    hang = lambda _: Reply(delay=3600)  # noqa: E731
    async with Endpoint(hang) as stuck, Endpoint() as fast:
        vidhook = await vidhook_factory(
            config(
                http_sink("stuck", stuck.url, (60.0,), concurrency=2, timeout=3),
                http_sink("fast", fast.url, concurrency=2),
                rule("all", "stuck", "fast"),
            )
        )
        ids = await post_callbacks(vidhook.client, 20)
        await eventually(lambda: len(fast.delivered()) == 20)
        # Every event reached fast while stuck answered nothing: stuck had only its two slots
        # in use, plus one more request for each of its sends that had timed out by then.
        timed_out = await attempts_at(vidhook, ids, "stuck")
        assert stuck.answered == []
        assert len(stuck.received) <= 2 + len(timed_out)

        async def two_timed_out() -> bool:
            return len(await attempts_at(vidhook, ids, "stuck")) >= 2

        await eventually(two_timed_out)
    timeouts = await attempts_at(vidhook, ids, "stuck")
    assert all(a.outcome == "retry" and a.status_code is None for a in timeouts[:2])
    assert all("timed out" in a.error or "no answer" in a.error for a in timeouts[:2])
    assert [a.outcome for a in await attempts_at(vidhook, ids, "fast")] == ["delivered"] * 20
    assert len(set(fast.delivered())) == 20


async def test_a_sink_named_by_several_rules_gets_the_event_once(vidhook_factory):
    async with Endpoint() as app, Endpoint() as audit:
        vidhook = await vidhook_factory(
            config(
                http_sink("app", app.url),
                http_sink("audit", audit.url),
                rule("everything", "app", "audit"),
                rule("completed", "app", when='{ type = "task.completed" }'),
                rule("again", "audit", "app"),
            )
        )
        [event_id] = await post_callbacks(vidhook.client, 1)
        await settled(vidhook, event_id, "delivered")
    rows = await vidhook.services.store.deliveries_of(event_id)
    assert sorted((row.sink, row.rule) for row in rows) == [
        ("app", "everything"),
        ("audit", "everything"),
    ]
    assert (len(app.received), len(audit.received)) == (1, 1)
