"""The store's writes that take more than one statement, written once as transaction scripts
(see `connector.py`): both connectors run exactly these rules."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from vidhook.receiver.event import STATUS_RANK, Event, new_id
from vidhook.receiver.store import archive_scripts, rows
from vidhook.receiver.store.connector import (
    WAKE,
    Row,
    Script,
    Statement,
    execute,
    fetch_all,
    fetch_one,
)
from vidhook.receiver.store.records import (
    REGISTERED,
    ArchivePlan,
    GroupJoin,
    IngestResult,
    PollPlan,
    RawRequest,
    Router,
    Routes,
    TaskRecord,
)
from vidhook.receiver.store.usage_columns import usage_columns, with_facts

__all__ = [
    "add_deliveries",
    "delivery_plan",
    "ingest",
    "join_groups",
    "prune",
    "register_task",
    "reject_held",
    "release_held",
    "split_routes",
    "wake_if",
]

# prune_archive marks the archive jobs of the events prune_events is about to delete.
_PRUNE_ORDER = (
    "prune_raw",
    "prune_attempts",
    "prune_groups",
    "prune_archive",
    "prune_events",
    "prune_tasks",
)


def ingest(
    event: Event,
    raw: RawRequest,
    route: Router,
    *,
    hold: bool,
    now: str,
    archive: ArchivePlan | None = None,
    moment: float = 0.0,
) -> Script[IngestResult]:
    """Store an event, its raw request and its deliveries. The task moves forward first (and,
    on PostgreSQL, its row stays locked to the commit, so instances take turns on one task);
    a status at or behind the task's is stale, and a repeat of (source, task_id, status) is a
    duplicate. Labels the task already has win over the event's; usage facts the event lacks
    come from the task's submit request, and the task's first report is marked, so usage
    counts each task once. With an `archive` plan, a completed event with videos also gets its
    archive jobs (`moment` is `now` in seconds), and its deliveries wait for them up to the
    plan's `wait`. Where the route groups the event for a sink, the event joins that group
    (`join_groups`, flushing from `moment`) instead of getting a delivery of its own; a held
    event's groups wait for its release, so it gets held deliveries for them now."""
    key = {"source": event.source, "task_id": event.task_id, "status": event.status}
    moved = yield fetch_one("advance_task", **key, rank=STATUS_RANK[event.status], now=now)
    if moved is None:
        known = yield fetch_one("task_and_event", **key)
        if known["body"] is not None:
            return _duplicate(known)
        task, stale = known, True
    else:
        task, stale = moved, False
    final = _with_task(event, task["labels"], task["facts"])
    pairs, joins = ([], []) if stale else split_routes(route(final))
    if hold:  # the groups are joined on release, when the provider has confirmed the event
        pairs, joins = pairs + [(j.rule, j.sink) for j in joins], []
    keep = None if stale or hold else _archive_plan(final, archive)
    due = moment + keep.wait if keep is not None and keep.wait > 0 else 0.0
    first = not stale and moved["reports"] == 1
    params = _event_params(final, raw, pairs, stale=stale, hold=hold, now=now, due=due, first=first)
    params.update(key)  # one dict of 30-odd parameters, not a second one built as keywords
    added = yield Statement("insert_event", params, "count")  # counts the events row it added
    if not added:  # a task row behind its events, never in normal operation
        return _duplicate((yield fetch_one("event_by_key", **key)))
    if keep is not None:
        yield from archive_scripts.add_jobs(final, give_up_at=moment + keep.window, now=now)
    if joins:
        yield join_groups(final.id, joins, moment=moment, now=now)
    if pairs and not hold:
        yield WAKE
    routed = len(pairs) + len(joins)
    return IngestResult(event=final, duplicate=False, stale=stale, deliveries=routed)


def split_routes(
    routed: list[tuple[str, str]] | Routes,
) -> tuple[list[tuple[str, str]], list[GroupJoin]]:
    """A router's answer as (pairs, group joins); plain pairs join no group."""
    if isinstance(routed, Routes):
        return list(routed.pairs), list(routed.joins)
    return routed, []


def join_groups(event_id: str, joins: Sequence[GroupJoin], *, moment: float, now: str) -> Statement:
    """The statement that puts an event into the open group of each join, opening it if none is
    (each new group with a new id)."""
    groups = [{**msgspec.structs.asdict(join), "id": new_id()} for join in joins]
    return execute(
        "join_groups",
        event_id=event_id,
        groups=rows.encode(groups).decode(),
        moment=moment,
        now=now,
    )


def _with_task(event: Event, labels: str | bytes, facts: str | bytes | None) -> Event:
    """The event with its task's labels over its own and the task's facts in its gaps; the
    event itself when the task has neither (most tasks: a copy costs the writer ~5 µs)."""
    fill = with_facts(event, facts)
    if labels in ("{}", b"{}") and not fill:
        return event
    merged = {**event.labels, **rows.decode_labels(labels)}
    return msgspec.structs.replace(event, labels=merged, **fill)


def _archive_plan(event: Event, archive: ArchivePlan | None) -> ArchivePlan | None:
    """The plan when the event is a completed one with videos to keep, else None."""
    if archive is None or event.type != "task.completed" or not event.video_urls:
        return None
    return archive


def _duplicate(row: Row) -> IngestResult:
    return IngestResult(
        event=rows.decode_event(row["body"]), duplicate=True, stale=bool(row["stale"]), deliveries=0
    )


def _event_params(
    event: Event,
    raw: RawRequest,
    pairs: Sequence[tuple[str | None, str]],
    *,
    stale: bool,
    hold: bool,
    now: str,
    due: float,
    first: bool,
) -> dict[str, object]:
    """The `insert_event` parameters beyond the (source, task_id, status) key; the deliveries
    are due at `due` (0: at once)."""
    return {
        **usage_columns(event),
        "first_report": first,
        "id": event.id,
        "provider": event.provider,
        "type": event.type,
        "model": event.model,
        "received_at": event.received_at,
        "stale": stale,
        "held": hold,
        "labels": rows.labels_json(event.labels),
        "body": rows.encode(event),
        "method": raw.method,
        "path": raw.path,
        "client": raw.client,
        "headers": rows.encode(raw.headers),
        "raw_body": raw.body,
        "state": "held" if hold else "pending",
        "now": now,
        "due": due,
        "deliveries": delivery_plan([(event.id, pairs)]) if pairs else "[]",
    }


def delivery_plan(plan: Sequence[tuple[str, Sequence[tuple[str | None, str]]]]) -> str:
    """New deliveries for (event id, [(rule, sink)]) pairs, as the JSON array the
    `insert_event` and `add_deliveries` statements read, each with a new id and webhook id."""
    deliveries = []
    for event_id, pairs in plan:
        for rule, sink in pairs:
            did = new_id()
            webhook_id = f"msg_{did.replace('-', '')}"
            deliveries.append(
                {
                    "id": did,
                    "event_id": event_id,
                    "sink": sink,
                    "rule": rule,
                    "webhook_id": webhook_id,
                }
            )
    return rows.encode(deliveries).decode()


def add_deliveries(deliveries: str, *, replay: bool, due: float, now: str) -> Script[int]:
    """Add the planned deliveries (see `delivery_plan`), pending and due at `due`."""
    statement = execute("add_deliveries", deliveries=deliveries, replay=replay, due=due, now=now)
    return (yield from wake_if(statement))


def wake_if(statement: Statement) -> Script[int]:
    """Run one statement that counts the rows it changed; wake the workers if it changed any."""
    changed: int = yield statement
    if changed:
        yield WAKE
    return changed


def register_task(
    source: str,
    task_id: str,
    labels: dict[str, str],
    *,
    now: str,
    poll: PollPlan | None,
    facts: str | None = None,
) -> Script[TaskRecord]:
    """Insert a task as `registered`, or merge `labels` over a known task's under its row's
    lock; with a plan, poll it unless it already ended (a `grace_until` once set is kept)."""
    key = {"source": source, "task_id": task_id}
    params = {
        **key,
        "now": now,
        "poll": poll is not None,
        "next_at": poll.next_at if poll else None,
        "deadline": poll.deadline if poll else None,
        "interval": poll.interval if poll else None,
        "grace_until": poll.grace_until if poll else None,
        "facts": facts,
    }
    row = yield fetch_one("insert_registered_task", **params, labels=rows.encode(labels))
    if row is None:
        known = yield fetch_one("lock_task", **key)
        merged = rows.encode({**rows.decode_labels(known["labels"]), **labels})
        row = yield fetch_one("update_registered_task", **params, labels=merged)
    return rows.task(row)


def release_held(
    event: Event,
    deliveries: str,
    *,
    now: str,
    archive: ArchivePlan | None = None,
    joins: Sequence[GroupJoin] = (),
    moment: float = 0.0,
) -> Script[int]:
    """Confirmed: `event` (the provider's account, same id) replaces the held one, and the
    planned `deliveries` (its routes, see `delivery_plan`) and group `joins` replace the held
    deliveries, which were routed by the callback's word; returns how many are now pending or
    grouped. Its archive jobs are filed now, as ingest files them for an event not held."""
    held = yield fetch_one("lock_held_event", id=event.id)
    if held is None:
        return 0
    yield execute("release_event", id=event.id, body=rows.encode(event), **usage_columns(event))
    yield execute("drop_held_deliveries", id=event.id)
    keep = _archive_plan(event, archive)
    due = 0.0
    if keep is not None:
        yield from archive_scripts.add_jobs(event, give_up_at=moment + keep.window, now=now)
        due = moment + keep.wait if keep.wait > 0 else 0.0
    if joins:
        yield join_groups(event.id, joins, moment=moment, now=now)
    return (yield from add_deliveries(deliveries, replay=False, due=due, now=now)) + len(joins)


def reject_held(event_id: str, note: str, *, now: float, at: str) -> Script[bool]:
    """Not confirmed: keep the event with `note`, reject its held deliveries, and set the
    task's status back to the highest of its other reports (`registered` if none), polling it
    again from `now` when it is polled and has not ended. Locks the task before the event, in
    ingest's order."""
    held = yield fetch_one("held_event", id=event_id)
    if held is None:
        return False
    key = {"source": held["source"], "task_id": held["task_id"]}
    yield fetch_one("lock_task", **key)
    if (yield fetch_one("lock_held_event", id=event_id)) is None:
        return False  # settled meanwhile by another instance
    yield execute("reject_event", id=event_id, note=note)
    yield execute("reject_deliveries", id=event_id, note=note, now=at)
    reports = yield fetch_all("task_statuses", **key)
    status, rank = max(
        ((r["status"], STATUS_RANK[r["status"]]) for r in reports if r["status"] in STATUS_RANK),
        key=lambda pair: pair[1],
        default=REGISTERED,
    )
    yield execute("reset_task", **key, status=status, rank=rank, now=at, at=now)
    return True


def prune(before: str) -> Script[int]:
    """Delete what is older than `before` in an order that keeps the rules of `Store.prune`."""
    total = 0
    for name in _PRUNE_ORDER:
        total += max((yield execute(name, before=before)), 0)
    return total
