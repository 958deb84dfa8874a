"""vidhook on PostgreSQL with one and two instances, against SQLite, in one run.

For each system, wrk (closed loop, one process per instance, connections split evenly) POSTs
vibegen callbacks with unique task ids for `--duration` seconds while every event is routed to an
http sink served by its own process (sink.py). Printed per system:

    callbacks/s     answered callbacks per second, summed over the instances (wrk)
    deliveries/s    events stored during the run / (last one's arrival at the sink - load start):
                    the end-to-end rate, ingest and delivery running together
    drain           seconds from the end of the load until the sink has every event

The systems: `sqlite` (one instance, WAL, synchronous=FULL, group commit), `postgres x1` and
`postgres x2` (instances sharing one database on the local server, each a fresh database).
Nothing is pinned to a core, because PostgreSQL itself runs on every core.

Run from the repository root, with PostgreSQL on 127.0.0.1:5432 (trust for user postgres):
    python tests/benchmarks/bench_postgres.py [--duration 10] [--connections 32]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sqlite3
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from harness import HERE, Service, WrkReport, free_port, machine, service, wrk

TOKEN = "bench-token-0123456789"
HOOK_PATH = f"/hooks/vibegen/{TOKEN}"
EVERY_CORE = f"0-{(os.cpu_count() or 1) - 1}"  # taskset list: wherever the kernel likes


@dataclass
class Result:
    """One system's figures."""

    system: str
    callbacks_per_s: float
    deliveries_per_s: float
    drain_s: float
    stored: int
    errors: int
    p99_ms: float
    rounds: str = ""


def config(workdir: Path, name: str, port: int, store_url: str, sink_port: int) -> Path:
    """The same production-like config for every system: token source, http sink, one rule."""
    path = workdir / f"{name}.toml"
    path.write_text(
        f"""
[server]
public_url = "http://127.0.0.1:{port}"
host = "127.0.0.1"
port = {port}

[store]
url = "{store_url}"

[log]
level = "info"
format = "json"

[sources.vibegen]
provider = "vibegen"
tokens = ["{TOKEN}"]

[sinks.out]
type = "http"
url = "http://127.0.0.1:{sink_port}/events"
format = "event"

[[rules]]
name = "everything"
sinks = ["out"]
""",
        encoding="utf-8",
    )
    return path


@contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    """A fresh database on the server, dropped afterwards."""
    name = f"vidhook_bench_{uuid.uuid4().hex[:12]}"

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(admin_url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def count_events(store_url: str, prefix: str) -> int:
    """Events whose task id starts with `prefix`, read while the servers run."""
    sql = "SELECT count(*) FROM events WHERE task_id LIKE "
    if store_url.startswith("sqlite:///"):
        with closing(sqlite3.connect(store_url.removeprefix("sqlite:///"))) as conn:
            return int(conn.execute(sql + "?", (f"{prefix}%",)).fetchone()[0])

    async def count() -> int:
        conn = await asyncpg.connect(store_url)
        try:
            return int(await conn.fetchval(sql + "$1", f"{prefix}%"))
        finally:
            await conn.close()

    return asyncio.run(count())


def sink_unique(sink: Service) -> int:
    with urllib.request.urlopen(sink.url + "/stats", timeout=5) as answer:
        return int(json.load(answer)["unique"])


def wait_until_delivered(sink: Service, expected: int, limit: float = 180) -> None:
    deadline = time.monotonic() + limit
    while sink_unique(sink) < expected:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the sink has {sink_unique(sink)} of {expected} after {limit} s")
        time.sleep(0.1)


def load(instances: list[Service], seconds: float, connections: int, prefix: str) -> WrkReport:
    """Run one wrk per instance at once; the reports summed."""
    share = max(1, connections // len(instances))
    with ThreadPoolExecutor(len(instances)) as pool:
        reports = list(
            pool.map(
                lambda pair: wrk(pair[1].url + HOOK_PATH, seconds, share, f"{prefix}{pair[0]}-"),
                enumerate(instances),
            )
        )
    return WrkReport(
        rps=sum(r.rps for r in reports),
        p50=max(r.p50 for r in reports),
        p99=max(r.p99 for r in reports),
        requests=sum(r.requests for r in reports),
        errors=sum(r.errors for r in reports),
    )


def start_instances(
    stack: ExitStack, workdir: Path, n: int, store_url: str, sink_port: int
) -> list[Service]:
    """`n` vidhook processes on one store, stopped when `stack` closes."""
    vidhook = shutil.which("vidhook", path=str(Path(sys.executable).parent)) or "vidhook"
    instances = []
    for i in range(n):
        port = free_port()
        toml = config(workdir, f"vidhook-{i}", port, store_url, sink_port)
        command = [vidhook, "serve", "--config", str(toml)]
        log = workdir / f"vidhook-{i}.log"
        instances.append(
            stack.enter_context(service(command, port, log, core=EVERY_CORE, cwd=workdir))
        )
    return instances


def measure(args: argparse.Namespace, workdir: Path, system: str, store_url: str, n: int) -> Result:
    """Start the sink and `n` instances on one store, warm up, then measure."""
    sink_port = free_port()
    receipts = workdir / "receipts.json"
    sink_command = [sys.executable, str(HERE / "sink.py"), "--port", str(sink_port)]
    sink_command += ["--out", str(receipts)]
    with ExitStack() as stack:
        sink = stack.enter_context(
            service(sink_command, sink_port, workdir / "sink.log", core=EVERY_CORE)
        )
        instances = start_instances(stack, workdir, n, store_url, sink_port)
        load(instances, args.warmup, args.connections, "warm")
        warm = count_events(store_url, "warm")
        wait_until_delivered(sink, warm)
        started = time.time()
        report = load(instances, args.duration, args.connections, "run")
        ended = time.time()
        stored = count_events(store_url, "run")
        wait_until_delivered(sink, warm + stored)
    # The sink wrote its receipts when the stack stopped it.
    arrivals = [first for task, (first, _) in json.loads(receipts.read_text()).items()
                if task.startswith("run")]  # fmt: skip
    last = max(arrivals)
    return Result(
        system, report.rps, stored / (last - started), max(0.0, last - ended), stored,
        report.errors, report.p99,
    )  # fmt: skip


def render(info: dict[str, str], results: list[Result], args: argparse.Namespace) -> str:
    lines = [f"- {key}: {value}" for key, value in info.items()]
    lines += [
        f"- load: wrk, {args.connections} connections split over the instances, "
        f"{args.duration:g} s after {args.warmup:g} s of warm-up; nothing pinned; the row of "
        f"the median round by callbacks/s, every round as callbacks/s / deliveries/s",
        "",
        "| system | callbacks/s | p99 ms | deliveries/s | drain s | stored | errors | rounds |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.system} | {r.callbacks_per_s:,.0f} | {r.p99_ms:.1f} | "
            f"{r.deliveries_per_s:,.0f} | {r.drain_s:.1f} | {r.stored} | {r.errors} | "
            f"{r.rounds} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10, help="measured seconds per system")
    parser.add_argument("--warmup", type=float, default=2, help="warm-up seconds per system")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections in all")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (median kept)")
    parser.add_argument(
        "--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="the server's maintenance database; a fresh database is made beside it",
    )  # fmt: skip
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2
    root = Path(tempfile.mkdtemp(prefix="vidhook-bench-pg-"))
    rounds: dict[str, list[Result]] = {}
    try:
        for number in range(args.rounds):
            for result in one_round(args, root / f"round-{number}"):
                rounds.setdefault(result.system, []).append(result)
            print(f"# done: round {number + 1}", file=sys.stderr)
        print(render(machine(root), [median(results) for results in rounds.values()], args))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


def one_round(args: argparse.Namespace, root: Path) -> Iterator[Result]:
    """Each system once, SQLite first, each on a fresh database."""
    sqlite_dir = root / "sqlite"
    sqlite_dir.mkdir(parents=True)
    yield measure(args, sqlite_dir, "sqlite x1", f"sqlite:///{sqlite_dir / 'vidhook.db'}", 1)
    for n in (1, 2):
        workdir = root / f"postgres-{n}"
        workdir.mkdir()
        with postgres_database(args.postgres) as url:
            yield measure(args, workdir, f"postgres x{n}", url, n)


def median(results: list[Result]) -> Result:
    """The round with the median callbacks/s, noting every round's figures."""
    ordered = sorted(results, key=lambda r: r.callbacks_per_s)
    middle = ordered[len(ordered) // 2]
    middle.rounds = ", ".join(
        f"{r.callbacks_per_s:,.0f}/{r.deliveries_per_s:,.0f}" for r in results
    )
    return middle


if __name__ == "__main__":
    sys.exit(main())
