"""The safety net with two vidhook instances on one PostgreSQL database: each overdue task is
polled by one instance at a time, each result is routed once, and the two together keep the
API key's query rate."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx

from tests.pg import postgres_database
from tests.provider_harness import (
    TOKENS,
    TaskVidhook,
    bound_socket,
    eventually,
    serve,
)
from tests.tasks.test_tasks_submit import source_toml
from vidhook.receiver.app import build_services, create_app
from vidhook.receiver.config import parse_settings
from vidhook.receiver.store import open_store
from vidhook.receiver.store.records import PollPlan

TASKS = 20
PER_MINUTE = 300  # one query every 0.2 s, for both instances together
WINDOW = 2.0


async def test_two_instances_poll_each_overdue_task_once_and_route_it_once(fake, tmp_path):
    fake_provider, fake_url = fake
    fake_provider.delay = 0
    fake_provider.answer_delay = 0.2  # queries overlap, so a task polled twice at once shows
    task_ids = {fake_provider.add_task("vibegen") for _ in range(TASKS)}  # callbacks lost
    async with postgres_database() as url:
        await _overdue(url, task_ids)  # their grace ran out while no vidhook was running
        first = await _instance(url, fake_url, tmp_path / "first.jsonl")
        second = await _instance(url, fake_url, tmp_path / "second.jsonl")
        try:

            async def all_routed():
                return len(_routed(tmp_path)) >= TASKS

            await eventually(all_routed, seconds=60)
            found = [
                first.services.metrics.safety_net_events.labels("vibegen")._value.get(),
                second.services.metrics.safety_net_events.labels("vibegen")._value.get(),
            ]
        finally:
            await first.stop()
            await second.stop()

    routed = _routed(tmp_path)
    assert sorted(e["task_id"] for e in routed) == sorted(task_ids)  # each routed once
    assert all("poll" in e["verified_by"] for e in routed)
    assert sum(found) == TASKS
    asked = [s.path.rpartition("/")[2] for s in fake_provider.seen("query")]
    assert sorted(asked) == sorted(task_ids)  # each polled once, by one of the two
    assert fake_provider.most_querying_one_task == 1
    queries = [s.at for s in fake_provider.seen("query")]
    most = max(sum(1 for t in queries if start <= t < start + WINDOW) for start in queries)
    # The turns are exact; one more is slack for a query the event loop sent a little late.
    assert most <= PER_MINUTE / 60 * WINDOW + 2, f"{most} queries within {WINDOW} s"


async def _overdue(url: str, task_ids: set[str]) -> None:
    store = open_store(url)
    await store.open()
    try:
        created = time.time() - 60
        for task_id in task_ids:
            plan = awaiting_callback_plan(created)
            await store.register_task("vibegen", task_id, {}, now=created, poll=plan)
    finally:
        await store.close()


def awaiting_callback_plan(created: float) -> PollPlan:
    grace_until = created + 30
    return PollPlan(
        next_at=grace_until, interval=0.2, deadline=grace_until + 600, grace_until=grace_until
    )


async def _instance(db_url: str, fake_url: str, out: Path) -> TaskVidhook:
    sock = bound_socket()
    public_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    text = (
        f'[server]\npublic_url = "{public_url}"\n[store]\nurl = "{db_url}"\n'
        + TOKENS
        + source_toml(
            "vibegen",
            fake_url,
            callback_grace=0.5,
            poll_interval=0.2,
            queries_per_minute=PER_MINUTE,
        )
        + f'[sinks.out]\ntype = "file"\npath = "{out}"\n[[rules]]\nname = "all"\nsinks = ["out"]\n'
    )
    settings = parse_settings(text, env={})
    services = build_services(settings)
    served = await serve(create_app(settings, services=services), sock)
    client = httpx.AsyncClient(base_url=public_url, timeout=10)
    return TaskVidhook(public_url, services, client, served)


def _routed(tmp_path: Path) -> list[dict]:
    lines = []
    for name in ("first.jsonl", "second.jsonl"):
        out = tmp_path / name
        lines += out.read_text().splitlines() if out.exists() else []
    return [e for e in map(json.loads, lines) if e["type"] != "task.progress"]
