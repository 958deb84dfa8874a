"""The archive's writes of several statements, as transaction scripts (see `connector.py`).

A video's copy, its event's links and the release of the deliveries that waited for it are
one commit: a delivery never goes out before the links it waited for are in its event.
"""

from __future__ import annotations

import msgspec

from vidhook.receiver.event import Event, new_id
from vidhook.receiver.store import rows
from vidhook.receiver.store.connector import WAKE, Script, execute, fetch_all, fetch_one
from vidhook.receiver.store.records import ArchiveCopy, ArchiveJob, Linker

__all__ = ["add_jobs", "archived", "failed", "relink"]


def add_jobs(event: Event, *, give_up_at: float, now: str) -> Script[int]:
    """File one archive job per video of `event`, due at once."""
    jobs = [{"id": new_id(), "n": n, "url": url} for n, url in enumerate(event.video_urls)]
    params = {"event_id": event.id, "give_up_at": give_up_at, "now": now}
    added: int = yield execute("add_archive_jobs", jobs=rows.encode(jobs).decode(), **params)
    return added


def archived(
    job: ArchiveJob, copy: ArchiveCopy, links: Linker, *, now: float, at: str
) -> Script[bool]:
    """Record a video's copy, write its event's links, and release the event's waiting
    deliveries once none of its videos is pending; false when the job was no longer pending
    (its event went meanwhile), and the copy is to be deleted."""
    body = yield fetch_one("lock_event_body", id=job.event_id)
    fields = msgspec.structs.asdict(copy)
    stored = yield execute("archive_stored", id=job.id, **fields, now=now, at=at)
    if not stored:
        return False
    if body is not None:
        yield from _link(rows.decode_event(body["body"]), links, now=now)
    return True


def failed(
    job: ArchiveJob, error: str, *, retry_at: float | None, now: float, at: str
) -> Script[None]:
    """Record a failed try: due again at `retry_at`, or dead (None), in which case the event's
    waiting deliveries go once none of its videos is pending."""
    state = "dead" if retry_at is None else "pending"
    params = {"id": job.id, "state": state, "next_at": retry_at, "error": error[:1000], "at": at}
    if not (yield execute("archive_failed", **params)) or retry_at is not None:
        return
    jobs = yield fetch_all("archive_jobs_of_event", event_id=job.event_id)
    if all(row["state"] != "pending" for row in jobs):
        yield from _release(job.event_id, now)


def relink(event_id: str, links: Linker) -> Script[Event | None]:
    """Write an event's links afresh (replay: new expiry and signature); the event as stored."""
    body = yield fetch_one("lock_event_body", id=event_id)
    if body is None:
        return None
    event = rows.decode_event(body["body"])
    found = yield fetch_all("archive_jobs_of_event", event_id=event_id)
    if not found:
        return event
    fresh = msgspec.structs.replace(event, archived_urls=links(event, _jobs(found)))
    yield execute("set_event_body", id=event_id, body=rows.encode(fresh))
    return fresh


def _link(event: Event, links: Linker, *, now: float) -> Script[None]:
    found = yield fetch_all("archive_jobs_of_event", event_id=event.id)
    jobs = _jobs(found)
    fresh = msgspec.structs.replace(event, archived_urls=links(event, jobs))
    yield execute("set_event_body", id=event.id, body=rows.encode(fresh))
    if all(job.state != "pending" for job in jobs):
        yield from _release(event.id, now)


def _release(event_id: str, now: float) -> Script[None]:
    if (yield execute("release_waiting_deliveries", event_id=event_id, now=now)):
        yield WAKE


def _jobs(found: list[dict[str, object]]) -> list[ArchiveJob]:
    return [rows.archive_job(row) for row in found]
