"""What grouping costs the store: ingest with and without a group join, and one flush.

On a fresh SQLite file (WAL, synchronous=FULL) and, when one answers, a fresh PostgreSQL
database, `--events` events are ingested one after another (each its own commit) three ways:
routed to one http sink (`plain`), to one http sink and one grouped slack sink (`grouped`:
one more statement in the same transaction), and grouped only (`grouped only`). Then the one
open group of `--events` events is flushed into its delivery and read back as the worker
reads it. Printed: events per second and microseconds per event for each way, and the flush
and batch-read times.

Run from the repository root:
    python tests/benchmarks/bench_grouping.py [--events 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.store_contract.samples import RAW, make_event
from vidhook.receiver.store import Store, open_store
from vidhook.receiver.store.records import GroupJoin, Routes

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
JOIN = GroupJoin(rule="r", sink="slack", key='[["source","vg"]]', wait=30, every=300)
WAYS = {
    "plain": lambda event: [("r", "app")],
    "grouped": lambda event: Routes([("r", "app")], [JOIN]),
    "grouped only": lambda event: Routes([], [JOIN]),
}


async def ingest_rate(store: Store, way: str, events: int) -> float:
    route = WAYS[way]
    started = time.perf_counter()
    for n in range(events):
        await store.ingest(make_event(f"{way}-{n}", "failed"), RAW, route)
    return time.perf_counter() - started


async def measure(url: str, events: int) -> None:
    store = open_store(url)
    await store.open()
    try:
        for way in WAYS:
            took = await ingest_rate(store, way, events)
            print(f"  {way:13} {events / took:8.0f} events/s  {took / events * 1e6:7.0f} us/event")
        started = time.perf_counter()
        [flushed] = await store.flush_groups(time.time() + 3600)
        flush = time.perf_counter() - started
        [due] = await store.claim("slack", "bench", time.time() + 3600, 30, 1)
        assert due.group_id is not None
        started = time.perf_counter()
        batch = await store.group_batch(due.group_id)
        read = time.perf_counter() - started
        assert batch is not None and batch.count == flushed.size == 2 * events
        print(f"  flush of a {flushed.size}-event group: {flush * 1000:.1f} ms;"
              f" its batch read: {read * 1000:.1f} ms")  # fmt: skip
    finally:
        await store.close()


async def main(events: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        print("sqlite")
        await measure(f"sqlite:///{folder}/bench.db", events)
    try:
        admin = await asyncpg.connect(ADMIN, timeout=3)
    except (OSError, asyncpg.PostgresError) as exc:
        print(f"postgres: skipped ({exc})")
        return
    name = f"vidhook_bench_{uuid.uuid4().hex[:12]}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        print("postgres")
        await measure(ADMIN.rsplit("/", 1)[0] + f"/{name}", events)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000)
    asyncio.run(main(parser.parse_args().events))
