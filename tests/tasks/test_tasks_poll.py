"""Polling: provider interval, backoff with Retry-After, timeout, restart, per-source bound."""

from __future__ import annotations

import itertools
import time

import pytest

from tests.provider_harness import ADMIN, SUBMITTER, eventually
from tests.tasks.test_tasks_submit import SUBMIT, source_toml
from vidhook.receiver.store.records import PollPlan
from vidhook.receiver.tasks.poller import MAX_BACKOFF, poll_delay


def gaps(times: list[float]) -> list[float]:
    return [later - earlier for earlier, later in itertools.pairwise(times)]


async def submit(vidhook, source: str) -> str:
    answer = await vidhook.post(f"/v1/submit/{source}", SUBMITTER, SUBMIT)
    assert answer.status_code == 201, answer.text
    return answer.json()["task"]["task_id"]


async def final_event(vidhook, source: str, task_id: str):
    async def ended():
        events = await vidhook.events(source, task_id)
        return [s.event for s in events if s.event.type != "task.progress"]

    (event,) = await eventually(ended)
    return event


async def test_a_task_that_never_ends_fails_with_a_timeout(fake, start_vidhook):
    fake_provider, fake_url = fake
    fake_provider.delay = 3600
    vidhook = await start_vidhook(
        source_toml("seedanceapi", fake_url, poll_interval=0.1, poll_timeout=2)
    )
    task_id = await submit(vidhook, "seedanceapi")

    event = await final_event(vidhook, "seedanceapi", task_id)

    assert event.type == "task.failed"
    assert event.error.code == "timeout"
    assert "2 s" in event.error.message
    assert event.verified_by == ["poll"]
    assert event.labels == {"team": "growth", "end_user_id": "user-42"}
    task = await vidhook.services.store.get_task("seedanceapi", task_id)
    assert (task.status, task.poll) == ("failed", False)
    queries = len(fake_provider.seen("query"))
    assert queries >= 1
    progress = [s.event for s in await vidhook.events("seedanceapi", task_id)]
    assert {e.status for e in progress} == {"processing", "failed"}


async def test_a_429_backs_off_for_at_least_its_retry_after(fake, start_vidhook):
    fake_provider, fake_url = fake
    vidhook = await start_vidhook(source_toml("aioagi", fake_url, poll_interval=0.1))
    fake_provider.fail(429, on="query", times=2, retry_after=1)
    task_id = await submit(vidhook, "aioagi")

    event = await final_event(vidhook, "aioagi", task_id)

    assert event.status == "completed"
    queries = [s.at for s in fake_provider.seen("query")]
    assert len(queries) >= 3
    assert all(gap >= 1.0 for gap in gaps(queries[:3]))
    polls = vidhook.services.metrics.polls
    assert polls.labels("aioagi", "rate_limited")._value.get() == 2


async def test_errors_back_off_longer_each_time(fake, start_vidhook):
    fake_provider, fake_url = fake
    vidhook = await start_vidhook(source_toml("videoapi", fake_url))
    fake_provider.poll_interval = 0.1
    fake_provider.fail(503, on="query", times=3)
    task_id = await submit(vidhook, "videoapi")

    event = await final_event(vidhook, "videoapi", task_id)

    assert event.status == "completed"
    queries = [s.at for s in fake_provider.seen("query")]
    waits = gaps(queries[:4])
    assert [w >= 0.8 * 0.1 * 2**n for n, w in enumerate(waits, start=1)] == [True] * 3
    assert waits[0] < waits[1] < waits[2]

    async def errors_cleared():
        # The poller records the task's outcome in a write of its own after the event's.
        task = await vidhook.services.store.get_task("videoapi", task_id)
        return task.poll_errors == 0

    await eventually(errors_cleared)


async def test_polling_resumes_after_a_restart(fake, start_vidhook):
    fake_provider, fake_url = fake
    fake_provider.delay = 2.0
    config = source_toml("videoapi", fake_url)
    first = await start_vidhook(config)
    task_id = await submit(first, "videoapi")

    async def polled():
        return fake_provider.seen("query")

    await eventually(polled)
    await first.stop()
    asked = len(fake_provider.seen("query"))

    second = await start_vidhook(config)
    event = await final_event(second, "videoapi", task_id)

    assert event.status == "completed"
    assert event.labels == {"team": "growth", "end_user_id": "user-42"}
    assert len(fake_provider.seen("query")) > asked


async def test_each_source_polls_within_its_bound(fake, start_vidhook):
    fake_provider, fake_url = fake
    fake_provider.answer_delay = 0.2
    fake_provider.delay = 0.0
    vidhook = await start_vidhook(source_toml("aioagi", fake_url, max_polls_in_flight=2))
    task_ids = [fake_provider.add_task("aioagi") for _ in range(8)]
    for task_id in task_ids:
        answer = await vidhook.post("/admin/tasks", ADMIN, {"source": "aioagi", "task_id": task_id})
        assert answer.status_code == 201, answer.text

    for task_id in task_ids:
        assert (await final_event(vidhook, "aioagi", task_id)).status == "completed"
    assert fake_provider.most_querying == 2


def test_poll_delay_is_the_interval_while_all_goes_well():
    assert poll_delay(10.0, 0) == 10.0


@pytest.mark.parametrize("errors", [1, 2, 3, 6])
def test_poll_delay_doubles_per_error_with_jitter(errors):
    expected = 2.0 * 2**errors
    for _ in range(50):
        assert 0.8 * expected <= poll_delay(2.0, errors) <= 1.2 * expected


def test_poll_delay_is_capped_and_honours_retry_after():
    assert poll_delay(2.0, 40) <= 1.2 * MAX_BACKOFF
    assert poll_delay(600.0, 3) <= 1.2 * 600.0
    assert poll_delay(0.1, 1, retry_after=30.0) == 30.0


async def test_past_its_deadline_a_task_gets_one_last_look_before_timing_out(fake, start_vidhook):
    fake_provider, fake_url = fake
    vidhook = await start_vidhook(source_toml("aioagi", fake_url))
    fake_provider.delay = 0
    ended = fake_provider.add_task("aioagi")  # ended while nobody was polling it
    fake_provider.delay = 3600
    running = fake_provider.add_task("aioagi")
    now = time.time()
    late = PollPlan(next_at=now, interval=0.2, deadline=now - 60)
    for task_id in (ended, running):
        await vidhook.services.store.register_task("aioagi", task_id, {}, now=now, poll=late)

    assert (await final_event(vidhook, "aioagi", ended)).status == "completed"
    timed_out = await final_event(vidhook, "aioagi", running)
    assert timed_out.error.code == "timeout"
    assert [s.path for s in fake_provider.seen("query")].count(f"/videos/{running}") == 1
