"""The safety net: a task whose provider calls back, but whose callback never comes, is polled
once its `callback_grace` has passed, and ends in one routed event all the same."""

from __future__ import annotations

import asyncio
import json
import time

from tests.provider_harness import ADMIN, HOOK, READER, bearer, eventually
from tests.tasks.test_tasks_submit import OUT, SUBMIT, SUBMITTER, source_toml
from vidhook.receiver.cli import main
from vidhook.receiver.store.records import PollPlan

GRACE = 0.5


async def submit(vidhook, source: str = "vibegen") -> str:
    answer = await vidhook.post(f"/v1/submit/{source}", SUBMITTER, SUBMIT)
    assert answer.status_code == 201, answer.text
    return answer.json()["task"]["task_id"]


async def final_event(vidhook, task_id: str, source: str = "vibegen"):
    async def ended():
        events = await vidhook.events(source, task_id)
        return [s.event for s in events if s.event.type != "task.progress"]

    (event,) = await eventually(ended)
    return event


def routed(tmp_path, task_id: str) -> list[dict]:
    out = tmp_path / "events.jsonl"
    lines = out.read_text().splitlines() if out.exists() else []
    return [e for e in map(json.loads, lines) if e["task_id"] == task_id]


async def test_a_lost_callback_is_found_by_polling_and_a_late_one_is_a_duplicate(
    fake, start_vidhook, tmp_path
):
    fake_provider, fake_url = fake
    fake_provider.drop_callbacks = True
    fake_provider.delay = 0.1
    vidhook = await start_vidhook(
        source_toml("vibegen", fake_url, callback_grace=GRACE, poll_interval=0.2) + OUT
    )
    submitted = time.monotonic()
    task_id = await submit(vidhook)

    event = await final_event(vidhook, task_id)
    await eventually(lambda: _async(routed(tmp_path, task_id)))

    assert event.status == "completed"
    assert "poll" in event.verified_by
    assert event.labels == {"team": "growth", "end_user_id": "user-42"}
    # Found by the first poll, which waited for the grace: within grace + one poll interval.
    (query,) = fake_provider.seen("query")
    assert query.at - submitted >= GRACE
    assert fake_provider.callbacks == []
    task = await vidhook.services.store.get_task("vibegen", task_id)
    assert (task.status, task.poll) == ("completed", False)
    assert vidhook.services.metrics.safety_net_events.labels("vibegen")._value.get() == 1

    late = await fake_provider.call_back(task_id)

    assert late.status_code == 200, late.text
    assert late.json()["duplicate"] is True
    stored = await vidhook.events("vibegen", task_id)
    assert [s.event.id for s in stored] == [event.id]
    assert len(await vidhook.services.store.deliveries_of(event.id)) == 1
    assert [e["id"] for e in routed(tmp_path, task_id)] == [event.id]


async def test_a_final_callback_in_time_disarms_the_safety_net(fake, start_vidhook):
    fake_provider, fake_url = fake
    vidhook = await start_vidhook(source_toml("vibegen", fake_url, callback_grace="10m"))
    task_id = await submit(vidhook)

    event = await final_event(vidhook, task_id)

    assert event.verified_by == ["token"]
    task = await vidhook.services.store.get_task("vibegen", task_id)
    assert (task.status, task.poll) == ("completed", False)
    assert task.grace_until is not None
    assert fake_provider.seen("query") == []


async def test_a_callback_that_comes_while_polling_stops_the_polling(fake, start_vidhook):
    fake_provider, fake_url = fake
    fake_provider.drop_callbacks = True
    fake_provider.delay = 3600
    vidhook = await start_vidhook(
        source_toml("vibegen", fake_url, callback_grace=0.1, poll_interval=0.1)
    )
    task_id = await submit(vidhook)
    await eventually(lambda: _async(len(fake_provider.seen("query")) >= 2))

    fake_provider.tasks[task_id].finish_at = 0.0
    answer = await fake_provider.call_back(task_id)

    assert answer.json()["duplicate"] is False
    task = await vidhook.services.store.get_task("vibegen", task_id)
    assert (task.status, task.poll) == ("completed", False)
    event = await final_event(vidhook, task_id)
    assert event.verified_by == ["token"]


async def test_overdue_tasks_are_listed_counted_and_told_apart(fake, start_vidhook, tmp_path):
    fake_provider, fake_url = fake
    fake_provider.drop_callbacks = True
    fake_provider.delay = 3600
    vidhook = await start_vidhook(
        source_toml("vibegen", fake_url, callback_grace=0.2, poll_interval=0.2)
        + source_toml("vibegen", fake_url, name="waiting", callback_grace="1h")
        + source_toml("vibegen", fake_url, name="done", callback_grace="1h")
    )
    overdue = await submit(vidhook)
    waiting = await submit(vidhook, "waiting")
    fake_provider.delay = 0
    fake_provider.drop_callbacks = False
    done = await submit(vidhook, "done")
    await final_event(vidhook, done, "done")
    await eventually(lambda: _async(fake_provider.seen("query")))

    async def listed(state: str) -> list[str]:
        answer = await vidhook.client.get(f"/admin/tasks?state={state}", headers=bearer(READER))
        assert answer.status_code == 200, answer.text
        return sorted(t["task_id"] for t in answer.json()["items"])

    assert await listed("overdue") == [overdue]
    assert await listed("polling") == [overdue]
    assert await listed("open") == sorted([overdue, waiting])
    assert await listed("done") == [done]
    metrics = (await vidhook.client.get("/metrics")).text
    assert "vidhook_tasks_open 2.0" in metrics
    assert "vidhook_tasks_overdue 1.0" in metrics
    wrong = await vidhook.client.get("/admin/tasks?state=late", headers=bearer(ADMIN))
    assert wrong.status_code == 400
    assert "state" in wrong.json()["error"]["message"]


async def test_a_task_registered_past_its_grace_is_overdue_even_if_it_cannot_be_polled(
    start_vidhook,
):
    vidhook = await start_vidhook(
        "[sources.keyless]\nprovider = 'evolink'\n" + f"tokens = ['{HOOK}']\n"
    )
    now = time.time()
    plan = PollPlan(next_at=now + 3600, interval=10, deadline=now + 7200, grace_until=now - 1)
    await vidhook.services.store.register_task("keyless", "lost-1", {}, now=now, poll=plan)

    (task,) = await vidhook.services.store.list_tasks(None, "overdue", 10, now=time.time())

    assert task.task_id == "lost-1"
    assert await vidhook.services.store.task_counts(time.time()) == (1, 1)


async def _async(value):
    return value


async def test_the_tasks_command_lists_the_overdue_ones(fake, start_vidhook, tmp_path, capsys):
    fake_provider, fake_url = fake
    fake_provider.drop_callbacks = True
    fake_provider.delay = 3600
    sources = source_toml("vibegen", fake_url, callback_grace=0.1) + source_toml(
        "vibegen", fake_url, name="patient", callback_grace="1h"
    )
    vidhook = await start_vidhook(sources)
    overdue = await submit(vidhook)
    waiting = await submit(vidhook, "patient")
    await eventually(lambda: _async(fake_provider.seen("query")))
    config = tmp_path / "cli.toml"
    config.write_text(f'[store]\nurl = "sqlite:///{tmp_path / "vidhook.db"}"\n{sources}')

    assert await asyncio.to_thread(main, ["tasks", "--overdue", "--config", str(config)]) == 0
    table = capsys.readouterr().out
    assert overdue in table and "overdue, polled" in table
    assert waiting not in table
    assert await asyncio.to_thread(main, ["tasks", "--json", "--config", str(config)]) == 0
    listed = {json.loads(line)["task_id"] for line in capsys.readouterr().out.splitlines()}
    assert listed == {overdue, waiting}


async def test_a_429_pauses_every_query_of_that_api_key(fake, start_vidhook):
    fake_provider, fake_url = fake
    fake_provider.delay = 0
    vidhook = await start_vidhook(source_toml("aioagi", fake_url))
    fake_provider.fail(429, on="query", times=1, retry_after=1)
    first, *others = [fake_provider.add_task("aioagi") for _ in range(3)]
    await _watch(vidhook, first)
    await eventually(lambda: _async(fake_provider.seen("query")))
    for task_id in others:
        await _watch(vidhook, task_id)

    for task_id in (first, *others):
        assert (await final_event(vidhook, task_id, "aioagi")).status == "completed"
    limited, *later = [s.at for s in fake_provider.seen("query")]
    assert len(later) == 3
    assert all(at - limited >= 1.0 for at in later)


async def _watch(vidhook, task_id: str) -> None:
    answer = await vidhook.post("/admin/tasks", ADMIN, {"source": "aioagi", "task_id": task_id})
    assert answer.status_code == 201, answer.text
