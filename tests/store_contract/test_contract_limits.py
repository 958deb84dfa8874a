"""Store contract, identifier limits: values at the limits of `identifiers` are stored and read
back unchanged by both stores (PostgreSQL indexes task ids, which caps their size)."""

from __future__ import annotations

from tests.store_contract.samples import RAW, T0, make_event, route_to
from vidhook.receiver.identifiers import MAX_LABEL_KEY, MAX_LABELS, MAX_NAME, MAX_TASK_ID, MAX_VALUE
from vidhook.receiver.store.records import EventFilter

# Multi-byte characters: a limit in characters is up to four times as many bytes.
TASK_ID = ("é" * (MAX_TASK_ID - 1)) + "\U0001f3ac"
SOURCE = "s" * MAX_NAME
LABELS = {f"{n:0{MAX_LABEL_KEY}d}": "v" * MAX_VALUE for n in range(MAX_LABELS)}


async def test_a_task_id_at_the_limit_is_stored_and_read_back(store):
    event = make_event(TASK_ID, source=SOURCE, labels=LABELS)

    stored = await store.ingest(event, RAW, route_to("ops"))
    again = await store.ingest(make_event(TASK_ID, source=SOURCE), RAW, route_to("ops"))

    assert stored.duplicate is False and again.duplicate is True
    read = await store.get_event(event.id)
    assert read.event.task_id == TASK_ID and read.event.source == SOURCE
    assert read.event.labels == LABELS
    listed = await store.list_events(EventFilter(task_id=TASK_ID, source=SOURCE), 10)
    assert [s.event.id for s in listed] == [event.id]
    task = await store.get_task(SOURCE, TASK_ID)
    assert task is not None and task.task_id == TASK_ID


async def test_a_registered_task_at_the_limits_is_read_back(store):
    task = await store.register_task(SOURCE, TASK_ID, LABELS, now=T0, poll=None)

    assert (task.source, task.task_id, task.labels) == (SOURCE, TASK_ID, LABELS)
    assert (await store.get_task(SOURCE, TASK_ID)).labels == LABELS
