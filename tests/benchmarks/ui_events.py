"""The dashboard's events listing on 1,000,000 stored events, SQLite and PostgreSQL, in one run.

For each store: seed the events (ui_seed.py: one SQLite transaction, PostgreSQL COPY), then
time the first page (50 rows, as the events page shows) and the next page (the keyset cursor
from the first) for every filter the page offers, through `Store.list_events`: the call behind
GET /admin/events and the events page. Printed per filter: p50/p95 in ms, and the same figure
for the baseline in the same run: the listing as it was before migration 0014 (the optional
filter terms left unsettled, the 0014 indexes dropped inside a transaction that is rolled
back), and a primary-key lookup (`get_event`) as the floor. Then the whole events page through
the app (ui_page.py): GET /ui/events over loopback, logged in, its server time and round trip.

Run from the repository root, PostgreSQL on 127.0.0.1:5432 (trust, user postgres):

    python tests/benchmarks/ui_events.py [--events 1000000] [--reps 30] [--reuse] [--only sqlite]

`--reuse` keeps the seeded SQLite file and PostgreSQL database between runs (under /tmp and
as database `vidhook_bench_ui`), so a second run skips the seeding.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
from ui_page import time_pages
from ui_seed import SOURCES, SPACING_MS, START_MS, seed_postgres, seed_sqlite

from vidhook.receiver.event import rfc3339
from vidhook.receiver.store import Store, open_store, rows
from vidhook.receiver.store.pg_sql import compile_query
from vidhook.receiver.store.records import EventFilter
from vidhook.receiver.store.store_reads import _filter

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_NAME = "vidhook_bench_ui"
SQLITE_PATH = "/tmp/vidhook-bench-ui/events.sqlite"
PAGE = 50
# Migration 0014 undone for the baseline, inside a transaction rolled back after it.
UNDO_0014 = (
    "DROP INDEX events_received_id",
    "DROP INDEX events_source_received",
    "DROP INDEX events_type_received",
    "DROP INDEX events_status_received",
    "CREATE INDEX events_received ON events (received_at)",
)
PG_UNDO_0014 = (*UNDO_0014, "DROP INDEX events_labels")
# The listing before 0014: newest first by id alone, optional terms left for the planner.
BEFORE_0014 = {
    "sqlite": """SELECT body, stale, held, note FROM events e
WHERE (:since IS NULL OR received_at >= :since) AND (:until IS NULL OR received_at < :until)
  AND (:source IS NULL OR source = :source) AND (:type IS NULL OR type = :type)
  AND (:status IS NULL OR status = :status) AND (:task_id IS NULL OR task_id = :task_id)
  AND (:before_id IS NULL OR id < :before_id)
  AND NOT EXISTS (SELECT 1 FROM json_each(:labels) w WHERE NOT EXISTS (
      SELECT 1 FROM json_each(e.body, '$.labels') l WHERE l.key = w.key AND l.value = w.value))
ORDER BY id DESC LIMIT :limit""",
    "postgres": """SELECT body, stale, held, note FROM events e
WHERE (:since::text IS NULL OR received_at >= :since)
  AND (:until::text IS NULL OR received_at < :until)
  AND (:source::text IS NULL OR source = :source) AND (:type::text IS NULL OR type = :type)
  AND (:status::text IS NULL OR status = :status)
  AND (:task_id::text IS NULL OR task_id = :task_id)
  AND (:before_id::text IS NULL OR id < :before_id)
  AND labels @> :labels::jsonb
ORDER BY id DESC LIMIT :limit""",
}


def _at(day: float, count: int) -> str:
    """The time `day` days after the first seeded event (`count` is for reading only)."""
    del count
    return rfc3339(datetime.fromtimestamp((START_MS + day * 86_400_000) / 1000, UTC))


def cases(count: int) -> dict[str, EventFilter]:
    """The filters the events page offers, with values of different selectivity."""
    span_days = count * SPACING_MS / 86_400_000
    last = span_days
    return {
        "none": EventFilter(),
        "source (1/8)": EventFilter(source=SOURCES[3]),
        "type failed (10%)": EventFilter(type="task.failed"),
        "status processing (30%)": EventFilter(status="processing"),
        "task id": EventFilter(task_id=f"task-{count // 4:08d}-1"),
        "label user (1/10k)": EventFilter(labels={"end_user_id": "user-1234"}),
        "label team (18%)": EventFilter(labels={"team": "ads"}),
        "since 1d": EventFilter(since=_at(last - 1, count)),
        "day in the middle": EventFilter(
            since=_at(last / 2, count), until=_at(last / 2 + 1, count)
        ),
        "until half way": EventFilter(until=_at(last / 2, count)),
        "source+status+7d": EventFilter(
            source=SOURCES[4], status="failed", since=_at(last - 7, count)
        ),
        "source+status, none match": EventFilter(source=SOURCES[5], status="failed"),
    }


@dataclass
class Timing:
    p50: float
    p95: float


async def timed(reps: int, call: Callable[[], Awaitable[object]]) -> Timing:
    await call()  # warm: plan caches, pages in memory
    laps = []
    for _ in range(reps):
        start = time.perf_counter()
        await call()
        laps.append((time.perf_counter() - start) * 1000)
    laps.sort()
    return Timing(statistics.median(laps), laps[min(len(laps) - 1, int(len(laps) * 0.95))])


async def next_page(store: Store, where: EventFilter) -> EventFilter:
    first = await store.list_events(where, PAGE + 1)
    cursor = first[PAGE - 1].event.id if len(first) > PAGE else None
    return EventFilter(**{**_fields(where), "before_id": cursor})


def page_queries(count: int) -> dict[str, str]:
    """The events page's own query strings for the same filters."""
    last = count * SPACING_MS / 86_400_000
    return {
        "none": "",
        "source": f"source={SOURCES[3]}",
        "type failed": "type=task.failed",
        "status processing": "status=processing",
        "task id": f"task_id=task-{count // 4:08d}-1",
        "label user (1/10k)": "label=end_user_id%3Duser-1234",
        "label team (18%)": "label=team%3Dads",
        "day in the middle": f"since={_at(last / 2, count)}&until={_at(last / 2 + 1, count)}",
        "until half way": f"until={_at(last / 2, count)}",
        "source+status+7d": f"source={SOURCES[4]}&status=failed&since={_at(last - 7, count)}",
    }


def _fields(where: EventFilter) -> dict[str, object]:
    return {name: getattr(where, name) for name in where.__struct_fields__}


class Baseline:
    """The listing as before 0014, on a connection of its own: optional terms unsettled and
    the new indexes dropped in a transaction that is rolled back at the end."""

    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        self.sql = BEFORE_0014[dialect]

    async def open(self, target: str) -> None:
        if self.dialect == "sqlite":
            self.conn = sqlite3.connect(target, isolation_level=None)
            self.conn.execute("BEGIN")
            for statement in UNDO_0014:
                self.conn.execute(statement)
        else:
            self.pg = await asyncpg.connect(target)
            self.tx = self.pg.transaction()
            await self.tx.start()
            for statement in PG_UNDO_0014:
                await self.pg.execute(statement)
            self.query = compile_query(self.sql)

    async def list(self, where: EventFilter) -> object:
        labels = rows.labels_json(where.labels)
        params = {**_filter(where), "labels": labels, "limit": PAGE + 1}
        if self.dialect == "sqlite":
            return self.conn.execute(self.sql, params).fetchall()
        return await self.pg.fetch(self.query.sql, *self.query.args(params))

    async def close(self) -> None:
        if self.dialect == "sqlite":
            self.conn.execute("ROLLBACK")
            self.conn.close()
        else:
            await self.tx.rollback()
            await self.pg.close()


async def prepare(dialect: str, count: int, reuse: bool) -> tuple[str, str]:
    """The store URL and the baseline's target, seeded with `count` events."""
    if dialect == "sqlite":
        os.makedirs(os.path.dirname(SQLITE_PATH), exist_ok=True)
        fresh = not (reuse and os.path.exists(SQLITE_PATH))
        if fresh:
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(SQLITE_PATH + suffix):
                    os.remove(SQLITE_PATH + suffix)
        url = f"sqlite:///{SQLITE_PATH}"
        await _migrate(url)
        if fresh:
            await _seeded(lambda: asyncio.to_thread(seed_sqlite, SQLITE_PATH, count), count)
        return url, SQLITE_PATH
    url = PG_ADMIN.rsplit("/", 1)[0] + "/" + PG_NAME
    admin = await asyncpg.connect(PG_ADMIN)
    exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", PG_NAME)
    fresh = not (reuse and exists)
    if fresh:
        await admin.execute(f'DROP DATABASE IF EXISTS "{PG_NAME}"')
        await admin.execute(f'CREATE DATABASE "{PG_NAME}"')
    await admin.close()
    await _migrate(url)
    if fresh:
        await _seeded(lambda: seed_postgres(url, count), count)
    return url, url


async def _migrate(url: str) -> None:
    store = open_store(url)
    await store.open()
    await store.close()


async def _seeded(seed: Callable[[], Awaitable[None]], count: int) -> None:
    start = time.perf_counter()
    await seed()
    print(f"  seeded {count:,} events in {time.perf_counter() - start:.0f} s", flush=True)


async def measure(dialect: str, count: int, reps: int, reuse: bool) -> None:
    print(f"\n{dialect}: {count:,} events", flush=True)
    url, target = await prepare(dialect, count, reuse)
    store = open_store(url)
    await store.open()
    baseline = Baseline(dialect)
    try:
        some = (await store.list_events(EventFilter(), 1))[0].event.id
        floor = await timed(reps, lambda: store.get_event(some))
        print(f"  primary-key lookup (floor): p50 {floor.p50:.2f} ms  p95 {floor.p95:.2f} ms")
        heads = ("page 1 p50/p95", "page 2 p50/p95", "baseline p50/p95")
        print(f"  {'filter':26} {heads[0]:>16} {heads[1]:>16} {heads[2]:>18}")
        found = []
        for name, where in cases(count).items():
            first = await timed(reps, lambda w=where: store.list_events(w, PAGE + 1))
            second_where = await next_page(store, where)
            second = await timed(reps, lambda w=second_where: store.list_events(w, PAGE + 1))
            found.append((name, where, first, second))
        await baseline.open(target)
        for name, where, first, second in found:
            before = await timed(max(3, reps // 10), lambda w=where: baseline.list(w))
            print(
                f"  {name:26} {first.p50:7.2f}/{first.p95:<8.2f}"
                f" {second.p50:7.2f}/{second.p95:<8.2f} {before.p50:8.1f}/{before.p95:<8.1f}",
                flush=True,
            )
    finally:
        await baseline.close() if hasattr(baseline, "conn") or hasattr(baseline, "pg") else None
        await store.close()
    await time_pages(url, SOURCES, page_queries(count), reps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--reps", type=int, default=30)
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument("--only", choices=["sqlite", "postgres"])
    args = parser.parse_args()
    for dialect in ("sqlite", "postgres"):
        if args.only in (None, dialect):
            asyncio.run(measure(dialect, args.events, args.reps, args.reuse))


if __name__ == "__main__":
    sys.exit(main())
