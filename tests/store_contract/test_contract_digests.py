"""Store contract, digests: the figures of a digest over a seeded store worked out by hand, a
schedule that fires once per period across a restart, and instances that fire it once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import msgspec

from tests.store_contract.samples import RAW, make_event, route_to
from vidhook.receiver.digest_config import DigestConfig
from vidhook.receiver.digest_loop import DigestLoop, PlannedDigest
from vidhook.receiver.digests import compute_digest
from vidhook.receiver.event import Credits, ErrorInfo, rfc3339
from vidhook.receiver.metrics import Metrics
from vidhook.receiver.pricing import PricingConfig
from vidhook.routes.filter import compile_filter

PRICING = msgspec.convert(
    {"tables": [{"provider": "vibegen", "prices": [
        {"resolution": "720p", "seconds": 5, "audio": 43, "silent": 30}]}]},
    PricingConfig,
)  # fmt: skip
DAILY = DigestConfig(
    name="daily", schedule="0 9 * * *", timezone="Europe/Berlin", sinks=["ops"],
    group_by=["labels.end_user_id"], when={"provider": "vibegen"},
)  # fmt: skip


def moment(day: int, hour: int, minute: int = 0) -> float:
    return datetime(2025, 3, day, hour, minute, tzinfo=UTC).timestamp()


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> str:
    return rfc3339(datetime(2025, 3, day, hour, minute, second, tzinfo=UTC))


async def seed(store, day: int = 10) -> None:
    """alice: 4 tasks, 3 completed (generation 60, 90, 120 s; 720p 5 s silent: 30 each), one
    failed ("blocked"); bob: 2 failed ("blocked", "timeout"), one still processing; carol's
    task is on ark, which the digest's `when` leaves out."""

    def event(task: str, status: str, user: str, taken: int | None = None, **fields: object):
        base = make_event(task, status, labels={"end_user_id": user}, received_at=at(day, 7, 30))  # type: ignore[arg-type]
        times = {}
        if taken is not None:
            times = {"created_at": at(day, 7), "finished_at": at(day, 7, taken // 60, taken % 60)}
        return msgspec.structs.replace(base, **times, **fields)

    small = {"resolution": "720p", "duration_s": 5.0, "audio": False}
    events = [
        event("a1", "completed", "alice", 60, **small),
        event("a2", "completed", "alice", 90, **small),
        event("a3", "completed", "alice", 120, **small),
        event("a4", "failed", "alice", 30, error=ErrorInfo(message="blocked")),
        event("b1", "failed", "bob", error=ErrorInfo(message="blocked")),
        event(
            "b2", "failed", "bob", error=ErrorInfo(message="timeout"), credits=Credits(reserved=5)
        ),
        event("b3", "processing", "bob"),
        event("c1", "completed", "carol", provider="ark"),
    ]
    for item in events:
        await store.ingest(item, RAW, route_to())


async def test_a_digest_over_a_seeded_store_has_the_hand_worked_figures(store):
    await seed(store)
    match = compile_filter(DAILY.when or {}).matches
    report, anchor = await compute_digest(
        store, DAILY, match, PRICING, since=at(9, 8), until=at(10, 8, 30)
    )
    groups = {g.group["labels.end_user_id"]: g for g in report.groups}
    assert set(groups) == {"alice", "bob"}
    alice, bob = groups["alice"], groups["bob"]
    assert (alice.tasks, alice.completed, alice.failed, alice.failure_rate) == (4, 3, 1, 0.25)
    assert [(e.message, e.count) for e in alice.top_errors] == [("blocked", 1)]
    # generation times 30, 60, 90, 120 s: nearest rank p50 = 60, p95 = 120
    assert (alice.p50_seconds, alice.p95_seconds) == (60.0, 120.0)
    assert (alice.credits, alice.estimated) == (0.0, 90.0)
    assert (bob.tasks, bob.completed, bob.failed, bob.failure_rate) == (3, 0, 2, 1.0)
    assert sorted((e.message, e.count) for e in bob.top_errors) == [("blocked", 1), ("timeout", 1)]
    assert (bob.credits, bob.p50_seconds) == (5.0, None)
    assert anchor is not None
    assert report.groups[0].group == {"labels.end_user_id": "alice"}  # most tasks first


async def test_the_schedule_fires_once_a_period_and_a_restart_does_not_resend(store, open_another):
    now = [moment(9, 12)]
    planned = [PlannedDigest(DAILY, compile_filter(DAILY.when or {}).matches)]
    metrics = Metrics()
    loop = DigestLoop(store, planned, PRICING, lambda: now[0], metrics)
    await loop.run_once()  # first round ever: counts from now, sends nothing
    assert loop.sent == [] and await store.digest_last_run("daily") == now[0]
    await seed(store)
    now[0] = moment(10, 7, 59)  # 08:59 in Berlin: not yet
    await loop.run_once()
    assert loop.sent == []
    now[0] = moment(10, 8) + 1  # 09:00:01 in Berlin
    await loop.run_once()
    await loop.run_once()
    assert len(loop.sent) == 1
    assert metrics.digests.labels(digest="daily")._value.get() == 1
    report = await store.digest_of(loop.sent[0])
    assert (report.since, report.until) == (at(9, 12), at(10, 8))
    assert {g.group["labels.end_user_id"] for g in report.groups} == {"alice", "bob"}
    deliveries = await store.list_deliveries("pending", "ops", None, 10)
    assert len(deliveries) == 1
    restarted = DigestLoop(await open_another(), planned, PRICING, lambda: now[0])
    await restarted.run_once()
    assert restarted.sent == []
    assert len(await store.list_deliveries("pending", "ops", None, 10)) == 1


async def test_instances_on_one_database_fire_a_digest_once(store, open_another):
    now = [moment(9, 12)]
    planned = [PlannedDigest(DAILY, None)]
    loops = [DigestLoop(store, planned, PRICING, lambda: now[0])]
    await loops[0].run_once()
    await seed(store)
    loops += [DigestLoop(await open_another(), planned, PRICING, lambda: now[0]) for _ in range(2)]
    now[0] = moment(10, 9)
    await asyncio.gather(*(loop.run_once() for loop in loops))
    assert sum(len(loop.sent) for loop in loops) == 1
    assert len(await store.list_deliveries("pending", "ops", None, 10)) == 1
