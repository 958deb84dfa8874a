"""Usage query time on 1,000,000 events, on SQLite and PostgreSQL, against a count(*) baseline.

    python tests/benchmarks/usage.py [--events 1000000] [--rounds 3] [--only sqlite|postgres]

Each store is migrated by vidhook, then seeded with bulk SQL (one INSERT ... SELECT over a
generated series; no per-event Python): events spread evenly over 60 days, 1,000 end users,
5 models, 3 resolutions, 5 or 10 s, 85% completed, 10% failed, 5% processing, a third with
credits reported. Then, for the last 30 days (half the events), the baseline (count(*) over the
range) and `Store.usage` for several group_bys are timed, each the median of `--rounds` runs.
PostgreSQL is a fresh database on the local server (VIDHOOK_TEST_POSTGRES), dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.pg import postgres_database
from vidhook.receiver.store import Store, open_store

DAY = 86_400
START = 1_760_000_000  # 2025-10-09T08:53:20Z
GROUP_BYS = [
    [],
    ["labels.end_user_id"],
    ["model"],
    ["labels.end_user_id", "model"],
    ["provider", "resolution", "status"],
]

# One row per event i: the same figures in both dialects.
SQLITE_SEED = """
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < :count - 1)
INSERT INTO events (id, source, provider, task_id, type, status, model, received_at, stale,
    held, body, labels, duration_s, resolution, audio, credits, refunded, first_report,
    gen_seconds, error)
SELECT printf('%08x-0000-7000-8000-%012x', i / 65536, i), 'vibegen', 'vibegen', 't' || i,
    CASE WHEN i % 20 < 17 THEN 'task.completed' WHEN i % 20 < 19 THEN 'task.failed'
         ELSE 'task.progress' END,
    CASE WHEN i % 20 < 17 THEN 'completed' WHEN i % 20 < 19 THEN 'failed' ELSE 'processing' END,
    'seedance-' || (i % 5), strftime('%Y-%m-%dT%H:%M:%fZ', :start + i * :step, 'unixepoch'),
    0, 0, x'7b7d', json_object('end_user_id', 'user-' || (i % 1000), 'team', 't' || (i % 7)),
    CASE WHEN i % 2 = 0 THEN 5.0 ELSE 10.0 END,
    CASE i % 3 WHEN 0 THEN '480p' WHEN 1 THEN '720p' ELSE '1080p' END, i % 2,
    CASE WHEN i % 3 = 0 THEN 20.0 END, CASE WHEN i % 20 IN (17, 18) THEN 1 END, 1,
    30 + i % 90, CASE WHEN i % 20 IN (17, 18) THEN 'error ' || (i % 13) END
FROM n
"""

POSTGRES_SEED = """
INSERT INTO events (id, source, provider, task_id, type, status, model, received_at, stale,
    held, body, labels, duration_s, resolution, audio, credits, refunded, first_report,
    gen_seconds, error)
SELECT lpad(to_hex(i / 65536), 8, '0') || '-0000-7000-8000-' || lpad(to_hex(i), 12, '0'),
    'vibegen', 'vibegen', 't' || i,
    CASE WHEN i % 20 < 17 THEN 'task.completed' WHEN i % 20 < 19 THEN 'task.failed'
         ELSE 'task.progress' END,
    CASE WHEN i % 20 < 17 THEN 'completed' WHEN i % 20 < 19 THEN 'failed' ELSE 'processing' END,
    'seedance-' || (i % 5),
    to_char(to_timestamp($2 + i * $3) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
    false, false, '\\x7b7d'::bytea,
    jsonb_build_object('end_user_id', 'user-' || (i % 1000), 'team', 't' || (i % 7)),
    CASE WHEN i % 2 = 0 THEN 5.0 ELSE 10.0 END,
    CASE i % 3 WHEN 0 THEN '480p' WHEN 1 THEN '720p' ELSE '1080p' END, i % 2 = 1,
    CASE WHEN i % 3 = 0 THEN 20.0 END, CASE WHEN i % 20 IN (17, 18) THEN true END, true,
    30 + i % 90, CASE WHEN i % 20 IN (17, 18) THEN 'error ' || (i % 13) END
FROM generate_series(0, $1 - 1) AS s(i)
"""


def rfc(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(seconds))


async def measure(store: Store, rounds: int) -> list[tuple[str, float, int]]:
    """(what, median seconds, rows) for the baseline and each group_by over the last 30 days."""
    since, until = rfc(START + 30 * DAY), rfc(START + 60 * DAY + 1)
    results = []
    times, count = [], 0
    for _ in range(rounds):
        began = time.perf_counter()
        count = await store.count_range(since, until)
        times.append(time.perf_counter() - began)
    results.append(("baseline count(*)", statistics.median(times), count))
    for group_by in GROUP_BYS:
        times, rows = [], 0
        for _ in range(rounds):
            began = time.perf_counter()
            rows = len(await store.usage(since, until, group_by))
            times.append(time.perf_counter() - began)
        results.append((",".join(group_by) or "(no group)", statistics.median(times), rows))
    return results


async def sqlite_run(count: int, rounds: int) -> list[tuple[str, float, int]]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "usage.db"
        store = open_store(f"sqlite:///{path}")
        await store.open()
        await store.close()
        began = time.perf_counter()
        with sqlite3.connect(path) as db:
            params = {"count": count, "start": START, "step": 60 * DAY / count}
            db.execute(SQLITE_SEED, params)
            db.execute("ANALYZE")
        print(f"sqlite: seeded {count:,} events in {time.perf_counter() - began:.1f} s")
        store = open_store(f"sqlite:///{path}")
        await store.open()
        try:
            return await measure(store, rounds)
        finally:
            await store.close()


async def postgres_run(count: int, rounds: int) -> list[tuple[str, float, int]]:
    import asyncpg

    async with postgres_database() as url:
        store = open_store(url)
        await store.open()
        try:
            began = time.perf_counter()
            db = await asyncpg.connect(url)
            try:
                await db.execute(POSTGRES_SEED.replace("$1", str(count)).replace(
                    "$2", str(START)).replace("$3", repr(60 * DAY / count)))  # fmt: skip
                await db.execute("VACUUM ANALYZE events")
            finally:
                await db.close()
            print(f"postgres: seeded {count:,} events in {time.perf_counter() - began:.1f} s")
            return await measure(store, rounds)
        finally:
            await store.close()


def show(name: str, results: list[tuple[str, float, int]]) -> None:
    baseline = results[0][1]
    print(f"\n{name}: last 30 days of 60 ({results[0][2]:,} events)")
    print("| group_by | median | x baseline | groups |\n|---|---|---|---|")
    for what, seconds, rows in results:
        print(f"| {what} | {seconds * 1000:,.0f} ms | {seconds / baseline:.1f} | {rows:,} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", choices=("sqlite", "postgres"))
    args = parser.parse_args()
    if args.only != "postgres":
        show("SQLite", asyncio.run(sqlite_run(args.events, args.rounds)))
    if args.only != "sqlite":
        show("PostgreSQL", asyncio.run(postgres_run(args.events, args.rounds)))


if __name__ == "__main__":
    main()
