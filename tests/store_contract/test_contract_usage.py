"""Store contract, usage: the aggregation per group and price bucket, checked against figures
worked out by hand, and the usage facts an event takes from its task's submit request."""

from __future__ import annotations

import msgspec
import pytest

from tests.store_contract.samples import RAW, T0, at, make_event, route_to
from vidhook.receiver.errors import BadRequest
from vidhook.receiver.event import Credits, ErrorInfo, Event
from vidhook.receiver.pricing import PricingConfig
from vidhook.receiver.providers.usage_facts import UsageFacts
from vidhook.receiver.usage import price_buckets

PRICING = msgspec.convert(
    {
        "unit": "credits",
        "currency": "USD",
        "unit_price": 0.01,
        "tables": [
            {
                "provider": "vibegen",
                "prices": [
                    {"resolution": "480p", "seconds": 5, "audio": 20, "silent": 15},
                    {"resolution": "720p", "seconds": 5, "audio": 43, "silent": 30},
                ],
            }
        ],
    },
    PricingConfig,
)


def _event(task_id: str, status: str, user: str, day: int = 10, **fields: object) -> Event:
    base = make_event(task_id, status, labels={"end_user_id": user}, received_at=at(day))  # type: ignore[arg-type]
    return msgspec.structs.replace(base, **fields)


async def _seed(store) -> None:
    """Alice: t1 (asked for 720p, 5 s, audio at submit; one progress report, then done) and
    t2 (480p 5 s silent, done). Bob: t3 failed, t4 done with 8 credits reported by evolink,
    t5 failed with 180 credits refunded. Carol: t6, 480p 10 s with audio, done. Outside the
    range: t7 (day 20). A late `processing` of t1 is stale and counts for nothing."""
    asked = UsageFacts(model="seedance-2.0", duration_s=5, resolution="720p", audio=True)
    await store.register_task("vg", "t1", {"end_user_id": "alice"}, now=T0, poll=None, facts=asked)
    events = [
        _event("t1", "processing", "alice", model=None),
        _event(
            "t1", "completed", "alice", model=None, created_at=at(10, 0), finished_at=at(10, 42)
        ),
        _event("t2", "completed", "alice", resolution="480p", duration_s=5.0, audio=False),
        _event("t3", "failed", "bob", error=ErrorInfo(message="sensitive content")),
        _event(
            "t4", "completed", "bob", provider="evolink", source="ev", credits=Credits(reserved=8)
        ),
        _event("t5", "failed", "bob", credits=Credits(reserved=180, refunded=True)),
        _event("t6", "completed", "carol", resolution="480p", duration_s=10.0, audio=True),
        _event("t7", "completed", "carol", day=20, resolution="480p", duration_s=5.0),
        _event("t1", "processing", "alice", day=11),
    ]
    for event in events:
        await store.ingest(event, RAW, route_to())


async def test_an_event_takes_the_usage_facts_its_submit_request_asked_for(store):
    await _seed(store)
    done = await store.list_events(_filter(task_id="t1", status="completed"), 1)
    event = done[0].event
    assert (event.model, event.duration_s, event.resolution, event.audio) == (
        "seedance-2.0", 5.0, "720p", True,
    )  # fmt: skip
    task = await store.get_task("vg", "t1")
    assert task.labels == {"end_user_id": "alice"}


async def test_usage_per_label_matches_the_hand_worked_figures(store):
    await _seed(store)
    buckets = await store.usage(at(1), at(15), ["labels.end_user_id"])
    groups = {
        g.group["labels.end_user_id"]: g
        for g in price_buckets(buckets, ["labels.end_user_id"], PRICING)
    }
    alice, bob, carol = groups["alice"], groups["bob"], groups["carol"]
    # alice: t1 priced 720p 5 s with audio (43) + t2 480p 5 s silent (15)
    assert (alice.tasks, alice.completed, alice.failed) == (2, 2, 0)
    assert (alice.credits, alice.estimated, alice.unpriced) == (0.0, 58.0, 0)
    assert alice.cost == pytest.approx(0.58)
    # bob: t4's 8 reported credits; t5's were refunded; failed tasks are not priced
    assert (bob.tasks, bob.completed, bob.failed) == (3, 1, 2)
    assert (bob.credits, bob.estimated) == (8.0, 8.0)
    # carol: 10 s is priced per second from the 5 s entry: 20 * 10 / 5
    assert (carol.tasks, carol.completed, carol.estimated) == (1, 1, 40.0)
    assert set(groups) == {"alice", "bob", "carol"}


async def test_usage_groups_by_event_fields_and_several_keys(store):
    await _seed(store)
    by_model = await store.usage(at(1), at(15), ["provider", "status"])
    rows = {
        tuple(g.group.values()): g for g in price_buckets(by_model, ["provider", "status"], PRICING)
    }
    assert rows[("vibegen", "completed")].completed == 3
    assert rows[("vibegen", "failed")].failed == 2
    assert rows[("evolink", "completed")].credits == 8.0
    assert rows[("vibegen", "processing")].tasks == 1  # t1's first report
    everything = price_buckets(await store.usage(at(1), at(30), []), [], PRICING)
    assert len(everything) == 1
    assert (everything[0].tasks, everything[0].completed, everything[0].failed) == (7, 5, 2)


async def test_usage_group_keys_read_the_same_on_both_stores(store):
    await _seed(store)
    keys = ["duration_s", "audio", "resolution"]
    groups = price_buckets(await store.usage(at(1), at(15), keys), keys, PRICING)
    found = {tuple(g.group.values()) for g in groups}
    assert ("10", "true", "480p") in found
    assert ("5", "false", "480p") in found
    assert ("5", "true", "720p") in found


async def test_an_unknown_group_field_is_refused_by_name(store):
    with pytest.raises(BadRequest, match="'colour'"):
        await store.usage(at(1), at(15), ["colour"])
    with pytest.raises(BadRequest, match="at most 3"):
        await store.usage(at(1), at(15), ["source", "model", "status", "type"])


def _filter(**fields: str):
    from vidhook.receiver.store.records import EventFilter

    return EventFilter(**fields)
