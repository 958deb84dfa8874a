"""Downtime drill: SIGKILL `vidhook serve`, let 20 submitted tasks finish at the provider while
it is down (their callbacks fail for good), start it again: the safety net finds every result,
each is routed once, and the provider is never asked faster than the configured query rate."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest
from drive import eventually
from serve_process import ServeProcess

from tests.provider_harness import API_KEY, HOOK, SUBMITTER, TOKENS, bearer, bound_socket, serve
from vidhook.receiver.fake_provider import FakeProvider

pytestmark = pytest.mark.slow

TASKS = 20
FINISH = 3.0  # after its creation, each task ends at the provider (vidhook is down by then)
GRACE = 6.0
PER_MINUTE = 300  # one query every 0.2 s
WINDOW = 2.0


async def test_results_that_finished_while_vidhook_was_down_are_routed_once(tmp_path):
    fake = FakeProvider(delay=FINISH, api_key=API_KEY)
    served = await serve(fake, bound_socket())
    config = tmp_path / "vidhook.toml"
    server = ServeProcess(config, tmp_path / "serve.log")
    config.write_text(_config(tmp_path, server.url, served.url))
    try:
        await server.start()
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            task_ids = [await _submit(client) for _ in range(TASKS)]
        submitted = time.monotonic()
        server.kill()
        # The drill needs vidhook down before any task ends and before any grace runs out
        # (a poll claimed by the killed process would wait for its lease).
        assert fake.callbacks == [] and fake.seen("query") == [], "the machine is too slow"

        # Every callback is attempted and fails (the fake tries three times), so only
        # polling can bring the results in.
        await eventually(lambda: len(fake.callbacks) == 3 * TASKS, within=30)
        assert all(isinstance(outcome, str) for _, outcome in fake.callbacks)
        await asyncio.sleep(max(0.0, submitted + GRACE - time.monotonic()))
        asked_before = len(fake.seen("query"))
        await server.start()

        await eventually(lambda: len(_routed(tmp_path)) >= TASKS, within=60)
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            metrics = (await client.get("/metrics")).text
        server.stop()
    finally:
        server.stop()
        await fake.close()
        await served.stop()

    routed = _routed(tmp_path)
    assert sorted(e["task_id"] for e in routed) == sorted(task_ids)  # each once
    assert all(e["status"] == "completed" and "poll" in e["verified_by"] for e in routed)
    assert f'vidhook_safety_net_events_total{{source="vibegen"}} {float(TASKS)}' in metrics
    queries = [s.at for s in fake.seen("query")[asked_before:]]
    assert len(queries) >= TASKS
    most = max(sum(1 for t in queries if start <= t < start + WINDOW) for start in queries)
    # The turns are exact; one more is slack for a query the event loop sent a little late.
    assert most <= PER_MINUTE / 60 * WINDOW + 2, f"{most} queries within {WINDOW} s"


async def _submit(client: httpx.AsyncClient) -> str:
    body = {"body": {"model": "seedance-1.0", "prompt": "a lighthouse"}, "labels": {"n": "1"}}
    answer = await client.post("/v1/submit/vibegen", json=body, headers=bearer(SUBMITTER))
    assert answer.status_code == 201, answer.text
    task_id: str = answer.json()["task"]["task_id"]
    return task_id


def _routed(tmp_path) -> list[dict]:
    out = tmp_path / "events.jsonl"
    lines = out.read_text().splitlines() if out.exists() else []
    return [e for e in map(json.loads, lines) if e["type"] != "task.progress"]


def _config(tmp_path, public_url: str, fake_url: str) -> str:
    return f"""
[server]
public_url = "{public_url}"

[store]
url = "sqlite:///{tmp_path / "vidhook.db"}"

[log]
format = "json"
{TOKENS}
[sources.vibegen]
provider = "vibegen"
tokens = ["{HOOK}"]
api_key = "{API_KEY}"
base_url = "{fake_url}/vibegen"
callback_grace = "{GRACE:g}s"
poll_interval = 0.5
queries_per_minute = {PER_MINUTE}

[sinks.out]
type = "file"
path = "{tmp_path / "events.jsonl"}"

[[rules]]
name = "all"
sinks = ["out"]
"""
