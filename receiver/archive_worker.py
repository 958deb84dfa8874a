"""The archive worker: claims due archive jobs, streams each video from the provider's CDN into
the archive store, and records the copy with its event's links; deletes the copies of jobs
whose event or retention is gone."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import PurePosixPath
from urllib.parse import urlsplit

import structlog

from vidhook.receiver.archive.backends import ArchiveBackend
from vidhook.receiver.archive.fetch import VIDEO_EXTENSIONS, Fetcher, FetchPolicy
from vidhook.receiver.archive_config import ArchiveConfig
from vidhook.receiver.background import Loop
from vidhook.receiver.errors import ArchiveFinal, ArchiveRetryable
from vidhook.receiver.media_links import MediaLinks
from vidhook.receiver.metrics import Metrics
from vidhook.receiver.store import Store
from vidhook.receiver.store.records import ArchiveCopy, ArchiveJob
from vidhook.routes.worker import DEFAULT_SCHEDULE, dead_local_owners, next_retry, worker_owner

__all__ = ["ArchiveWorker", "archive_key", "retry_delay"]

log = structlog.get_logger("vidhook.archive")
# Housekeeping (retention, parts a crash elsewhere left) runs at most this often.
_UPKEEP_EVERY = 3600.0
_LEASE_MARGIN = 60.0


def archive_key(job: ArchiveJob) -> str:
    """Where a job's copy is kept: `{event_id}/{n}` with the URL's video extension."""
    suffix = PurePosixPath(urlsplit(job.url).path).suffix.lower()
    return f"{job.event_id}/{job.n}{suffix if suffix in VIDEO_EXTENSIONS else ''}"


def retry_delay(attempt: int) -> float:
    """Seconds before the next try after `attempt` failed ones: the delivery schedule, its
    last step repeated (the job's give-up time bounds it)."""
    delay = next_retry(DEFAULT_SCHEDULE, min(attempt, len(DEFAULT_SCHEDULE)), None)
    return DEFAULT_SCHEDULE[-1] if delay is None else delay


class ArchiveWorker(Loop):
    """Archives up to `concurrency` videos at a time, each a leased job, so a crash hands the
    job to the next start; parts a crashed download left are removed at start."""

    name = "archive-worker"
    failure = "archive round failed"

    def __init__(
        self,
        store: Store,
        config: ArchiveConfig,
        backend: ArchiveBackend,
        links: MediaLinks,
        metrics: Metrics,
        clock: Callable[[], float] = time.time,
        concurrency: int = 2,
        idle_wait: float = 1.0,
        grace: float = 5.0,
    ) -> None:
        super().__init__(idle_wait, grace)
        self.store = store
        self.config = config
        self.backend = backend
        self.links = links
        self.metrics = metrics
        self.clock = clock
        self.concurrency = concurrency
        self.owner = worker_owner()
        self.fetcher: Fetcher | None = None
        self._lease = config.seconds("total_timeout") + _LEASE_MARGIN
        self._tasks: set[asyncio.Task[None]] = set()
        self._upkeep_at = time.monotonic()

    async def prepare(self) -> None:
        """Take up the jobs of a dead local worker and remove the parts crashed downloads
        left: all of them when no other worker holds a job, else only those too old to be
        in flight."""
        others = await self._release_dead_owners()
        older_than = self._lease if others else 0.0
        removed = await self.backend.remove_partials(older_than=older_than)
        if removed:
            log.info("removed parts of interrupted downloads", removed=removed)

    async def run_once(self) -> float:
        """Claim what there is room for; wait until the next job is due."""
        if time.monotonic() - self._upkeep_at > _UPKEEP_EVERY:
            await self._upkeep()
        now = self.clock()
        due = await self.store.next_archive_due(now)
        free = self.concurrency - len(self._tasks)
        if due is not None and due <= now and free > 0:
            for job in await self.store.claim_archive_jobs(self.owner, now, self._lease, free):
                task = asyncio.create_task(self._handle(job))
                self._tasks.add(task)
                task.add_done_callback(self._done)
            return 0.0 if len(self._tasks) < self.concurrency else self.idle_wait
        if due is None or free <= 0:
            return self.idle_wait
        return min(self.idle_wait, max(0.0, due - now))

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self.wake()

    async def drain(self, grace: float) -> None:
        """Let downloads in flight finish for up to `grace` seconds, then stop them and give
        their jobs back (their parts are removed by the put that owned them)."""
        if self._tasks:
            _, still = await asyncio.wait(self._tasks, timeout=grace)
            for task in still:
                task.cancel()
            await asyncio.gather(*still, return_exceptions=True)
        await self.store.release_archive_leases(self.owner)
        if self.fetcher is not None:
            await self.fetcher.close()

    async def _handle(self, job: ArchiveJob) -> None:
        try:
            if job.state == "removing":
                await self._remove(job)
            else:
                await self._archive(job)
        except Exception as exc:  # the lease expires and the job is tried again
            log.error("archive job not settled", job_id=job.id, error=str(exc))

    async def _archive(self, job: ArchiveJob) -> None:
        key, started = archive_key(job), time.monotonic()
        try:
            copy = await self._download(job, key)
        except ArchiveFinal as exc:
            await self._settle_failure(job, exc.message, final=True)
            return
        except ArchiveRetryable as exc:
            await self._settle_failure(job, exc.message, final=False)
            return
        finally:
            self.metrics.archive_duration.observe(time.monotonic() - started)
        recorded = await self.store.archived(job, copy, await self.links.linker(), self.clock())
        if not recorded:  # its event went meanwhile: keep no copy nothing points to
            await self.backend.delete(key)
            return
        self.metrics.archive.labels("archived").inc()
        self.metrics.archive_bytes.inc(copy.size)
        log.info("video archived", event_id=job.event_id, n=job.n, key=key, size=copy.size)

    async def _download(self, job: ArchiveJob, key: str) -> ArchiveCopy:
        if self.fetcher is None:
            self.fetcher = Fetcher(FetchPolicy.from_config(self.config))
        async with self.fetcher.get(job.url) as download:
            stored = await self.backend.put(
                key, download.chunks(), download.content_type, max_bytes=self.config.max_bytes
            )
        return ArchiveCopy(
            key=stored.key,
            size=stored.size,
            sha256=stored.sha256,
            content_type=stored.content_type,
            etag=stored.etag,
        )

    async def _settle_failure(self, job: ArchiveJob, error: str, *, final: bool) -> None:
        now = self.clock()
        retry_at = None if final else now + retry_delay(job.attempts + 1)
        if retry_at is not None and retry_at > job.give_up_at:
            retry_at, error = None, f"{error}; gave up: the provider's link has likely expired"
        outcome = "dead" if retry_at is None else "retry"
        self.metrics.archive.labels(outcome).inc()
        retry_in = None if retry_at is None else round(retry_at - now)
        log.warning("archive failed", event_id=job.event_id, n=job.n, error=error,
                    outcome=outcome, retry_in=retry_in)  # fmt: skip
        await self.store.archive_failed(job, error, retry_at, now)

    async def _remove(self, job: ArchiveJob) -> None:
        if job.key is not None:
            await self.backend.delete(job.key)
        await self.store.forget_archive(job.id)
        self.metrics.archive.labels("removed").inc()

    async def _upkeep(self) -> None:
        self._upkeep_at = time.monotonic()
        if self.config.retention_days > 0:
            before = self.clock() - self.config.retention_days * 86400
            expired = await self.store.expire_archives(before)
            if expired:
                log.info("archived videos past retention_days to be removed", count=expired)
        await self.backend.remove_partials(older_than=self._lease)

    async def _release_dead_owners(self) -> bool:
        """Give back the jobs of this host's dead workers; whether a live one holds any."""
        owners = await self.store.archive_lease_owners()
        dead = dead_local_owners(owners)
        for owner in dead:
            log.info("releasing archive jobs of a dead worker", owner=owner)
            await self.store.release_archive_leases(owner)
        return any(owner not in dead and owner != self.owner for owner in owners)
