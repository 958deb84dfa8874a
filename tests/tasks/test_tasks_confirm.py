"""`confirm = true`: callbacks stored at once, routed only when the provider agrees."""

from __future__ import annotations

import json
import time

import pytest

from tests.conftest import fixture_json
from tests.provider_harness import ADMIN, HOOK, SUBMITTER, bearer, eventually
from tests.tasks.test_tasks_submit import OUT, SUBMIT, source_toml
from vidhook.receiver.event import ErrorInfo, Event, TaskReport, event_type, new_id
from vidhook.receiver.tasks.confirm import judge


def callback(task_id: str, status: str = "completed") -> dict[str, object]:
    """A vibegen callback for a task, in the fixture's shape."""
    body = fixture_json("vibegen", f"callback_{status}")
    body["task_id"] = task_id
    return body


async def settled(vidhook, task_id: str, status: str):
    """The routed event of that status, once it is no longer held."""

    async def check():
        for stored in await vidhook.events("vibegen", task_id):
            if stored.event.status == status and not stored.held and stored.note is None:
                return stored
        return None

    return await eventually(check)


async def written(out, event_id: str) -> bool:
    lines = out.read_text().splitlines() if out.exists() else []
    return any(json.loads(line)["id"] == event_id for line in lines)


@pytest.fixture
async def confirming(fake, start_vidhook):
    fake_provider, fake_url = fake
    vidhook = await start_vidhook(source_toml("vibegen", fake_url, confirm=True) + OUT)
    return fake_provider, vidhook


async def test_a_callback_the_provider_agrees_with_is_routed_as_provider_verified(
    confirming, tmp_path
):
    fake_provider, vidhook = confirming
    answer = await vidhook.post("/v1/submit/vibegen", SUBMITTER, SUBMIT)
    task_id = answer.json()["task"]["task_id"]

    stored = await settled(vidhook, task_id, "completed")

    assert stored.note is None
    assert stored.event.verified_by == ["token", "provider-api"]
    assert stored.event.labels == {"team": "growth", "end_user_id": "user-42"}
    assert fake_provider.callbacks[0][1] == 200
    assert [s.path for s in fake_provider.seen("query")] == [f"/tasks/{task_id}"]
    assert confirms(vidhook, "confirmed") == 1
    await eventually(lambda: written(tmp_path / "events.jsonl", stored.event.id))


async def test_a_contradicted_callback_is_kept_unrouted_and_the_genuine_one_still_counts(
    confirming, tmp_path
):
    fake_provider, vidhook = confirming
    fake_provider.delay = 3600
    task_id = fake_provider.add_task("vibegen")
    path = f"/hooks/vibegen/{HOOK}"

    forged = await vidhook.client.post(path, json=callback(task_id))

    assert forged.status_code == 200, forged.text
    forged_id = forged.json()["id"]
    stored = await eventually(lambda: _rejected(vidhook, forged_id))
    assert stored.note.startswith("rejected: the callback said completed")
    assert "processing" in stored.note
    rows = await vidhook.services.store.deliveries_of(forged_id)
    assert [row.state for row in rows] == ["rejected"]
    truth = await settled(vidhook, task_id, "processing")
    assert truth.event.verified_by == ["provider-api"]
    assert confirms(vidhook, "contradicted") == 1
    assert confirms(vidhook, "confirmed") == 0

    fake_provider.tasks[task_id].finish_at = time.monotonic()
    genuine = await vidhook.client.post(path, json=callback(task_id))

    assert genuine.status_code == 200
    assert genuine.json() == {"id": genuine.json()["id"], "duplicate": False}
    done = await settled(vidhook, task_id, "completed")
    assert done.event.id == genuine.json()["id"]
    assert done.event.verified_by == ["token", "provider-api"]
    await eventually(lambda: written(tmp_path / "events.jsonl", done.event.id))
    assert not await written(tmp_path / "events.jsonl", forged_id)


def confirms(vidhook, outcome: str) -> float:
    """How many vibegen callbacks `vidhook_confirm_total` counts with this outcome."""
    registry = vidhook.services.metrics.registry
    labels = {"source": "vibegen", "outcome": outcome}
    return registry.get_sample_value("vidhook_confirm_total", labels) or 0.0


async def _rejected(vidhook, event_id: str):
    stored = await vidhook.services.store.get_event(event_id)
    return stored if stored.note else None


async def test_a_callback_for_a_task_the_provider_does_not_know_is_rejected(confirming):
    _, vidhook = confirming

    answer = await vidhook.client.post(f"/hooks/vibegen/{HOOK}", json=callback("no-such-task"))

    assert answer.status_code == 200
    stored = await eventually(lambda: _rejected(vidhook, answer.json()["id"]))
    assert stored.note.startswith("rejected: vibegen answered 404")
    assert stored.held is False
    assert confirms(vidhook, "contradicted") == 1


async def test_a_progress_callback_the_provider_has_moved_past_is_superseded(confirming):
    fake_provider, vidhook = confirming
    fake_provider.delay = 0
    task_id = fake_provider.add_task("vibegen")
    body = {"task_id": task_id, "status": "processing"}

    answer = await vidhook.client.post(f"/hooks/vibegen/{HOOK}", json=body)

    stored = await eventually(lambda: _rejected(vidhook, answer.json()["id"]))
    assert stored.note.startswith("superseded:")
    done = await settled(vidhook, task_id, "completed")
    assert done.event.verified_by == ["provider-api"]


async def test_a_callback_that_cannot_be_confirmed_in_time_is_rejected(start_vidhook):
    config = source_toml(
        "vibegen", "http://127.0.0.1:9", confirm=True, poll_interval=0.1, poll_timeout=1
    )
    vidhook = await start_vidhook(config)

    answer = await vidhook.client.post(f"/hooks/vibegen/{HOOK}", json=callback("t-1"))

    assert answer.status_code == 200
    held = await vidhook.services.store.get_event(answer.json()["id"])
    assert held.held is True
    stored = await eventually(lambda: _rejected(vidhook, answer.json()["id"]))
    assert stored.note.startswith("rejected: could not confirm with the provider within 1 s")
    assert "could not reach vibegen" in stored.note
    assert confirms(vidhook, "unconfirmed") == 1


def make_event(task_id: str, status="completed") -> Event:
    return Event(
        id=new_id(), type=event_type(status), source="vibegen", provider="vibegen",
        task_id=task_id, status=status, provider_status=status, received_at="2026-01-01T00:00:00Z",
    )  # fmt: skip


def report(task_id: str, status, word: str) -> TaskReport:
    error = ErrorInfo(message="x") if status == "failed" else None
    return TaskReport(task_id=task_id, status=status, provider_status=word, error=error)


@pytest.mark.parametrize(
    ("said", "answered", "outcome"),
    [
        ("completed", "completed", "agree"),
        ("processing", "processing", "agree"),
        ("pending", "processing", "superseded"),
        ("processing", "completed", "superseded"),
        ("processing", "failed", "superseded"),
        ("completed", "processing", "contradicted"),
        ("completed", "failed", "contradicted"),
        ("failed", "completed", "contradicted"),
        ("processing", "pending", "contradicted"),
    ],
)
def test_judge_compares_statuses(said, answered, outcome):
    verdict = judge(make_event("t1", said), report("t1", answered, answered))
    assert verdict.outcome == outcome
    if outcome != "agree":
        assert said in verdict.reason and answered in verdict.reason


def test_judge_refuses_an_answer_about_another_task():
    verdict = judge(make_event("t1"), report("t2", "completed", "completed"))
    assert verdict.outcome == "contradicted"
    assert "'t2'" in verdict.reason


async def test_a_confirmed_event_carries_the_providers_data_not_the_callbacks(confirming, tmp_path):
    fake_provider, vidhook = confirming
    fake_provider.delay = 0
    task_id = fake_provider.add_task("vibegen", model="seedance-pro")
    task = fake_provider.tasks[task_id]
    path = f"/hooks/vibegen/{HOOK}"
    forged_body = {
        **callback(task_id),
        "video_url": "https://evil.example/steal.mp4",
        "created_at": "2001-01-01T00:00:00Z",
        "completed_at": "2001-01-01T00:00:01Z",
    }

    forged = await vidhook.client.post(path, json=forged_body)

    assert forged.status_code == 200, forged.text
    done = await settled(vidhook, task_id, "completed")
    assert done.event.id == forged.json()["id"]
    assert done.event.video_urls == [task.video_url]
    assert done.event.model == "seedance-pro"
    assert done.event.created_at == task.iso().replace("Z", ".000Z")
    assert done.event.finished_at is not None and not done.event.finished_at.startswith("2001")
    assert done.event.verified_by == ["token", "provider-api"]
    out = tmp_path / "events.jsonl"
    await eventually(lambda: written(out, done.event.id))
    routed = [json.loads(line) for line in out.read_text().splitlines()]
    assert [e["video_urls"] for e in routed] == [[task.video_url]]
    shown = await vidhook.client.get(f"/admin/events/{done.event.id}", headers=bearer(ADMIN))
    assert shown.json()["event"]["video_urls"] == [task.video_url]

    genuine = await vidhook.client.post(
        path, json=callback(task_id) | {"video_url": task.video_url}
    )

    assert genuine.json() == {"id": done.event.id, "duplicate": True}
    rows = await vidhook.services.store.deliveries_of(done.event.id)
    assert len(rows) == 1
    assert len(out.read_text().splitlines()) == 1


async def test_a_confirmed_event_is_routed_by_the_providers_data(fake, start_vidhook, tmp_path):
    fake_provider, fake_url = fake
    fake_provider.delay = 0
    rules = """
[sinks.out]
type = "file"
path = "{dir}/events.jsonl"

[sinks.vip]
type = "file"
path = "{dir}/vip.jsonl"

[[rules]]
name = "old-tasks"
when = { finished_at = { "$lt" = "2002" } }
sinks = ["vip"]

[[rules]]
name = "all"
sinks = ["out"]
"""
    vidhook = await start_vidhook(source_toml("vibegen", fake_url, confirm=True) + rules)
    task_id = fake_provider.add_task("vibegen", model="plain-model")
    forged_body = {**callback(task_id), "completed_at": "2001-01-01T00:00:01Z"}

    forged = await vidhook.client.post(f"/hooks/vibegen/{HOOK}", json=forged_body)

    done = await settled(vidhook, task_id, "completed")
    rows = await vidhook.services.store.deliveries_of(forged.json()["id"])
    assert [(row.rule, row.sink) for row in rows] == [("all", "out")]
    assert done.event.model == "plain-model"
    assert not done.event.finished_at.startswith("2001")
