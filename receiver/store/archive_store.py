"""The store's archive jobs: filed by ingest, claimed with leases, settled by the archive
worker, listed and retried by operators, and removed with their stored copies."""

from __future__ import annotations

from vidhook.receiver.event import Event, rfc3339_at
from vidhook.receiver.store import archive_scripts, rows
from vidhook.receiver.store.connector import execute, fetch_all, fetch_one
from vidhook.receiver.store.records import ArchiveCopy, ArchiveCounts, ArchiveJob, Linker
from vidhook.receiver.store.store_reads import StoreReads

__all__ = ["ArchiveStore"]


class ArchiveStore(StoreReads):
    """Archive jobs, in the outbox's shape: `pending` jobs (and `removing` ones, whose copy
    is to be deleted) are claimed with leases, earliest due first; `archived` records the copy
    and writes the event's `archived_urls`; `archive_failed` retries or gives up (`dead`).
    Once none of an event's jobs is pending, its deliveries held back for them go out."""

    async def add_meta(self, key: str, value: str) -> str:
        """Store `value` under `key` unless one is there already; the value kept."""
        await self.connector.write(execute("add_meta", key=key, value=value))
        kept = await self.get_meta(key)
        return value if kept is None else kept

    async def next_archive_due(self, now: float) -> float | None:
        """When the next unleased pending or removing job is due."""
        row = await self.connector.read(fetch_one("next_archive_due", now=now))
        return None if row is None or row["at"] is None else float(row["at"])

    async def claim_archive_jobs(
        self, owner: str, now: float, lease: float, limit: int
    ) -> list[ArchiveJob]:
        """Lease up to `limit` due jobs to `owner`, earliest due first; instances claiming at
        once each take different ones."""
        params = {"owner": owner, "lease_until": now + lease, "now": now, "limit": limit}
        found = await self.connector.write(fetch_all("claim_archive_jobs", **params))
        return sorted((rows.archive_job(r) for r in found), key=lambda job: job.next_at)

    async def archived(self, job: ArchiveJob, copy: ArchiveCopy, links: Linker, now: float) -> bool:
        """Record a video's copy and its event's links (see `archive_scripts.archived`)."""
        return await self.connector.transaction(
            lambda: archive_scripts.archived(job, copy, links, now=now, at=rfc3339_at(now))
        )

    async def archive_failed(
        self, job: ArchiveJob, error: str, retry_at: float | None, now: float
    ) -> None:
        """Record a failed try: due again at `retry_at`, or dead when None."""
        await self.connector.transaction(
            lambda: archive_scripts.failed(
                job, error, retry_at=retry_at, now=now, at=rfc3339_at(now)
            )
        )

    async def relink(self, event_id: str, links: Linker) -> Event | None:
        """Write an event's archived_urls afresh from its jobs; the event as now stored."""
        return await self.connector.transaction(lambda: archive_scripts.relink(event_id, links))

    async def archive_jobs_of(self, event_id: str) -> list[ArchiveJob]:
        found = await self.connector.read(fetch_all("archive_jobs_of_event", event_id=event_id))
        return [rows.archive_job(r) for r in found]

    async def list_archive_jobs(
        self, state: str | None, event_id: str | None, before_id: str | None, limit: int
    ) -> list[ArchiveJob]:
        """Archive jobs, newest first, with `before_id` as the cursor."""
        params = {"state": state, "event_id": event_id, "before_id": before_id, "limit": limit}
        found = await self.connector.read(fetch_all("list_archive_jobs", **params))
        return [rows.archive_job(r) for r in found]

    async def get_archive_job(self, job_id: str) -> ArchiveJob | None:
        row = await self.connector.read(fetch_one("get_archive_job", id=job_id))
        return None if row is None else rows.archive_job(row)

    async def archived_copy(self, event_id: str, n: int) -> ArchiveJob | None:
        """The archived job of an event's `n`th video, or None if it has no copy (yet)."""
        row = await self.connector.read(fetch_one("archived_copy", event_id=event_id, n=n))
        return None if row is None else rows.archive_job(row)

    async def retry_archive(self, job_id: str, now: float) -> bool:
        """Make a dead (or unleased pending) job due at `now`; false for any other."""
        statement = execute("retry_archive", id=job_id, now=now, at=rfc3339_at(now))
        return bool(await self.connector.write(statement))

    async def retry_dead_archives(self, now: float) -> int:
        """Make every dead job due at `now`; returns how many."""
        statement = execute("retry_dead_archives", now=now, at=rfc3339_at(now))
        again: int = await self.connector.write(statement)
        return again

    async def archive_counts(self) -> ArchiveCounts:
        row = await self.connector.read(fetch_one("archive_counts"))
        return ArchiveCounts(pending=int(row["pending"]), dead=int(row["dead"]),
                             archived=int(row["archived"]))  # fmt: skip

    async def expire_archives(self, before: float) -> int:
        """Mark the copies archived before `before` (unix time) for removal."""
        expired: int = await self.connector.write(execute("expire_archives", before=before))
        return expired

    async def forget_archive(self, job_id: str) -> None:
        """Delete a removing job's row, once its stored copy is gone."""
        await self.connector.write(execute("forget_archive", id=job_id))

    async def release_archive_leases(self, owner: str) -> None:
        await self.connector.write(execute("release_archive_leases", owner=owner))

    async def archive_lease_owners(self) -> list[str]:
        found = await self.connector.read(fetch_all("archive_lease_owners"))
        return [row["lease_owner"] for row in found]
