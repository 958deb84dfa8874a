"""`/admin/archive`: archive jobs by state and event, and retrying one or every dead one."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter

from vidhook.receiver.archive_ops import retry_archive_job, retry_dead_archives
from vidhook.receiver.handler_parts import Clock
from vidhook.receiver.http_errors import errors
from vidhook.receiver.store import Store
from vidhook.receiver.store.records import ArchiveCounts, ArchiveJob, ArchiveState

__all__ = ["ArchiveController", "ArchivePage", "RetriedArchives"]


class ArchivePage(msgspec.Struct, kw_only=True):
    """A page of archive jobs, newest first, and how many wait, gave up and are kept; pass
    `next_cursor` as `cursor` for the next page."""

    items: list[ArchiveJob]
    next_cursor: str | None
    counts: ArchiveCounts


class RetriedArchives(msgspec.Struct, kw_only=True):
    """How many dead archive jobs were made due again."""

    retried: int


class ArchiveController(Controller):
    """The archive's jobs: what waits, what was kept, what gave up and why."""

    path = "/archive"
    tags = ["admin: archive"]

    @get("/", opt={"scope": "read"}, summary="List archive jobs", responses=errors())
    async def list_jobs(
        self,
        store: NamedDependency[Store],
        job_state: Annotated[ArchiveState | None, QueryParameter(name="state")] = None,
        event: Annotated[str | None, QueryParameter(max_length=64)] = None,
        cursor: Annotated[str | None, QueryParameter(max_length=64)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
    ) -> ArchivePage:
        """Archive jobs, newest first; `state=dead` lists the videos that could not be kept,
        each with its reason. Scope: read."""
        rows = await store.list_archive_jobs(job_state, event or None, cursor or None, limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        next_cursor = rows[-1].id if more else None
        return ArchivePage(items=rows, next_cursor=next_cursor, counts=await store.archive_counts())

    @post(
        "/retry-dead",
        opt={"scope": "admin"},
        status_code=200,
        summary="Retry every dead archive job",
        responses=errors(),
    )
    async def retry_dead(
        self, store: NamedDependency[Store], clock: NamedDependency[Clock]
    ) -> RetriedArchives:
        """Make every dead archive job due now. Scope: admin."""
        return RetriedArchives(retried=await retry_dead_archives(store, clock))

    @post(
        "/{job_id:str}/retry",
        opt={"scope": "admin"},
        status_code=200,
        summary="Retry one archive job",
        responses=errors(404, 409),
    )
    async def retry(
        self, job_id: FromPath[str], store: NamedDependency[Store], clock: NamedDependency[Clock]
    ) -> ArchiveJob:
        """Make a dead (or waiting) archive job due now; archived and in-flight ones are
        refused. Scope: admin."""
        return await retry_archive_job(store, clock, job_id[:64])
