"""Operating the archive: retry one job or every dead one, for the admin API and the CLI.

A retried job keeps its id and attempts; it is due at once and, if past the time its link was
expected to work, gets one more try before it is dead again.
"""

from __future__ import annotations

from collections.abc import Callable

from vidhook.receiver.errors import Conflict, NotFound
from vidhook.receiver.store import Store
from vidhook.receiver.store.records import ArchiveJob

__all__ = ["retry_archive_job", "retry_dead_archives"]


async def retry_archive_job(store: Store, clock: Callable[[], float], job_id: str) -> ArchiveJob:
    """Make a dead (or waiting) archive job due now; refuse archived, removed and in-flight."""
    job = await store.get_archive_job(job_id)
    if job is None:
        raise NotFound(f"no archive job with id {job_id[:64]!r}", code="unknown_archive_job")
    if job.state in ("archived", "removing"):
        raise Conflict(f"archive job {job_id} is {job.state}; nothing to retry",
                       code="not_retryable")  # fmt: skip
    if not await store.retry_archive(job_id, clock()):
        raise Conflict(f"archive job {job_id} is being archived right now", code="in_flight")
    return await store.get_archive_job(job_id) or job


async def retry_dead_archives(store: Store, clock: Callable[[], float]) -> int:
    """Make every dead archive job due now; how many."""
    return await store.retry_dead_archives(clock())
