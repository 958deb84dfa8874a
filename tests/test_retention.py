"""Retention: old raw requests, attempts and events are pruned on a schedule, never an event
whose deliveries are still pending."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from tests.stored_events import RAW, kill_delivery, make_event
from vidhook.receiver.app import build_services
from vidhook.receiver.config import parse_settings
from vidhook.receiver.retention import RetentionTask
from vidhook.receiver.store import open_store

NOW = datetime(2025, 6, 1, tzinfo=UTC).timestamp()


def to_ops(event):
    return [("rule", "ops")]


@pytest.fixture
async def store(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'retention.db'}")
    await store.open()
    yield store
    await store.close()


async def seed(store):
    """An old event done with (dead delivery), an old one still pending, and a recent one."""
    done = make_event(1, received_at="2025-04-01T00:00:00.000Z")
    pending = make_event(2, received_at="2025-04-01T00:00:00.000Z")
    recent = make_event(3, received_at="2025-05-25T00:00:00.000Z")
    await store.ingest(done, RAW, to_ops)
    await kill_delivery(store, "ops")
    for event in (pending, recent):
        await store.ingest(event, RAW, to_ops)
    return done, pending, recent


async def test_prune_once_keeps_recent_and_pending_events(store):
    done, pending, recent = await seed(store)
    task = RetentionTask(store, 30, clock=lambda: NOW)
    assert task.cutoff() == "2025-05-02T00:00:00.000Z"
    assert await task.prune_once() > 0
    assert await store.get_event(done.id) is None
    assert await store.get_event(pending.id) is not None
    assert await store.get_raw(pending.id) is not None
    assert await store.get_event(recent.id) is not None
    assert await task.prune_once() == 0


async def test_the_schedule_prunes_and_stops(store):
    done, pending, _ = await seed(store)
    task = RetentionTask(store, 30, clock=lambda: NOW, first_delay=0.01, interval=0.05)
    task.start()
    for _ in range(200):  # bounded: about four seconds
        if await store.get_event(done.id) is None:
            break
        await asyncio.sleep(0.02)
    await task.stop()
    assert await store.get_event(done.id) is None
    assert await store.get_event(pending.id) is not None
    await task.stop()  # stopping twice is harmless


async def test_zero_days_keeps_everything(store):
    done, _, _ = await seed(store)
    task = RetentionTask(store, 0, clock=lambda: NOW, first_delay=0.0)
    task.start()
    await asyncio.sleep(0.05)
    await task.stop()
    assert await store.get_event(done.id) is not None


def test_the_app_runs_retention_from_the_config():
    settings = parse_settings('[store]\nurl = "sqlite:///unused.db"\nretention_days = 7\n', env={})
    services = build_services(settings)
    tasks = [t for t in services.supervisor.loops if isinstance(t, RetentionTask)]
    assert len(tasks) == 1 and tasks[0].retention_days == 7 and tasks[0].interval == 3600
    asyncio.run(services.http.aclose())
