"""`vidhook archive status|retry|rotate-key`, on the configured store directly."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Iterable
from typing import Any

from vidhook.receiver.archive_ops import retry_archive_job, retry_dead_archives
from vidhook.receiver.cli.connect import store_opened
from vidhook.receiver.cli.render import Column, emit_json, print_table
from vidhook.receiver.errors import BadRequest
from vidhook.receiver.event import rfc3339_at
from vidhook.receiver.media_links import rotate_key
from vidhook.receiver.store.records import ArchiveJob

__all__ = ["run_retry", "run_rotate_key", "run_status"]

# How long a signed link works when the config has no [archive] section to say.
_DEFAULT_LINK_EXPIRY = 7 * 86400.0

JOB_COLUMNS = (
    Column("id", "id"), Column("event", "id", 4), Column("n", drop=5), Column("state"),
    Column("tries", drop=3), Column("size", drop=6), Column("updated", "time", 2),
    Column("url or error", "wrap", 1),
)  # fmt: skip


def job_rows(jobs: Iterable[ArchiveJob]) -> list[list[Any]]:
    """Table rows for archive jobs: the error for a job that failed, else its source URL."""
    return [
        [j.id, j.event_id, j.n, j.state, j.attempts, j.size, j.updated_at, j.last_error or j.url]
        for j in jobs
    ]


def run_status(args: argparse.Namespace) -> int:
    """Archive jobs, newest first (--dead: only those that gave up), and the counts."""
    if args.limit < 1:
        raise BadRequest("--limit must be 1 or more")

    async def work() -> Any:
        async with store_opened(args) as opened:
            state = "dead" if args.dead else None
            jobs = await opened.store.list_archive_jobs(state, args.event, None, args.limit)
            return jobs, await opened.store.archive_counts()

    jobs, counts = asyncio.run(work())
    if args.json:
        emit_json(jobs)
        return 0
    empty = "no dead archive jobs" if args.dead else "no archive jobs"
    print_table("archive jobs", JOB_COLUMNS, job_rows(jobs), empty=empty)
    print(f"pending {counts.pending}, archived {counts.archived}, dead {counts.dead}",
          file=sys.stderr)  # fmt: skip
    return 0


def run_retry(args: argparse.Namespace) -> int:
    """Retry the named archive jobs, or with --dead every dead one."""
    if bool(args.job_ids) == args.dead:
        raise BadRequest("name archive job ids to retry, or use --dead; not both")

    async def work() -> Any:
        async with store_opened(args) as opened:
            if args.dead:
                return await retry_dead_archives(opened.store, opened.clock)
            return [await retry_archive_job(opened.store, opened.clock, i) for i in args.job_ids]

    done = asyncio.run(work())
    if args.json:
        emit_json([{"retried": done}] if args.dead else done)
    elif args.dead:
        print(f"retried {done} dead archive job{'' if done == 1 else 's'}")
    else:
        print_table("retried", JOB_COLUMNS, job_rows(done))
    return 0


def run_rotate_key(args: argparse.Namespace) -> int:
    """Make a new signing key; the previous one stays valid as long as a link lasts."""

    async def work() -> float:
        async with store_opened(args) as opened:
            archive = opened.settings.archive
            expiry = archive.seconds("link_expiry") if archive else _DEFAULT_LINK_EXPIRY
            keys = await rotate_key(opened.store, opened.clock(), expiry)
            return keys.previous_until or 0.0

    until = asyncio.run(work())
    if args.json:
        emit_json([{"rotated": True, "previous_valid_until": until}])
    else:
        print(f"new signing key in use; links signed before stay valid until {rfc3339_at(until)}")
    return 0
