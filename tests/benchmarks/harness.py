"""What the benchmark runner needs around the systems it measures: processes pinned to cores,
free ports, peak memory, wrk and its report, percentiles and a description of the machine."""

from __future__ import annotations

import contextlib
import math
import os
import platform
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

HERE = Path(__file__).resolve().parent
SERVER_CORE, LOAD_CORE = "0", "1"


def pinned(core: str, command: Sequence[str]) -> list[str]:
    """The command run on one core through taskset, or as is on a one-core machine."""
    if (os.cpu_count() or 1) < 2 or shutil.which("taskset") is None:
        return list(command)
    return ["taskset", "-c", core, *command]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    """Wait until something accepts on the port; fail with the log if the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode}:\n{log.read_text()}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {timeout:g} s:\n{log.read_text()}")


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set size so far (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system, every thread) the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def core_busy_seconds(core: str) -> float:
    """Non-idle time of one CPU core so far, whoever used it."""
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith(f"cpu{core} "):
            ticks = [int(n) for n in line.split()[1:]]
            idle = ticks[3] + ticks[4]  # idle and iowait
            return (sum(ticks[:8]) - idle) / _TICK
    return float("nan")


@dataclass
class CpuWatch:
    """CPU use over a measurement: the server's own, and others' on the server's core."""

    pid: int
    core: str = SERVER_CORE
    start: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def __enter__(self) -> CpuWatch:
        self.start = (time.monotonic(), cpu_seconds(self.pid), core_busy_seconds(self.core))
        return self

    def __exit__(self, *_: object) -> None:
        wall, mine, busy = time.monotonic(), cpu_seconds(self.pid), core_busy_seconds(self.core)
        self.wall = wall - self.start[0]
        self.server = mine - self.start[1]
        self.others = max(0.0, (busy - self.start[2]) - self.server)

    def describe(self, requests: int) -> str:
        """Server CPU per request, and how much of the core other processes took."""
        per = self.server / requests * 1e6 if requests else float("nan")
        return (
            f"{per:.0f} CPU µs/callback, server {self.server / self.wall:.0%} of core "
            f"{self.core}, other processes {self.others / self.wall:.0%}"
        )


@dataclass
class Service:
    """A running server process: its port, process and log file."""

    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextlib.contextmanager
def service(
    command: Sequence[str], port: int, log: Path, core: str = SERVER_CORE, cwd: Path | None = None
) -> Iterator[Service]:
    """Start a server on one core, wait for its port, and stop it with SIGINT at the end."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            pinned(core, command), stdout=out, stderr=subprocess.STDOUT, cwd=cwd
        )
    try:
        wait_for_port(port, process, log, timeout=30)
        yield Service(port, process, log)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@dataclass
class WrkReport:
    """What wrk measured: requests per second, latency percentiles (ms), totals and errors."""

    rps: float
    p50: float
    p99: float
    requests: int
    errors: int


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if match is None:
        raise ValueError(f"unreadable wrk latency {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_wrk(output: str) -> WrkReport:
    """Read wrk's `--latency` report."""
    percentiles = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", output, re.MULTILINE))
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", output))
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    return WrkReport(
        rps=float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),  # type: ignore[union-attr]
        p50=_ms(percentiles["50"]),
        p99=_ms(percentiles["99"]),
        requests=requests,
        errors=errors,
    )


def wrk(url: str, seconds: float, connections: int, prefix: str) -> WrkReport:
    """Drive `url` with wrk from the load core, POSTing callbacks whose task ids start with
    `prefix`."""
    command = [
        "wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency", "--timeout", "10s",
        "-s", str(HERE / "post.lua"), url,
    ]  # fmt: skip
    env = {**os.environ, "BENCH_PREFIX": prefix}
    done = subprocess.run(
        pinned(LOAD_CORE, command), capture_output=True, text=True, env=env, check=True
    )
    return parse_wrk(done.stdout)


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of the values (nan when there are none)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))
    return ordered[index]


def count_rows(db: Path, sql: str, params: Sequence[object] = ()) -> int:
    """One count from a SQLite file, read after its server has stopped."""
    with contextlib.closing(sqlite3.connect(db)) as conn:
        row = conn.execute(sql, params).fetchone()
        return int(row[0])


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def _filesystem(path: Path) -> str:
    best, kind = "", "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/mounts").read_text().splitlines():
            _, point, fs = line.split()[:3]
            inside = str(path).startswith(point.rstrip("/") + "/") or str(path) == point
            if inside and len(point) > len(best):
                best, kind = point, fs
    return kind


def commit_latency_ms(workdir: Path, commits: int = 200) -> float:
    """Median time of a one-row SQLite commit in WAL with synchronous=FULL: what fsync costs
    on this disk, and so what the naive receiver pays per request."""
    path = workdir / "fsync-probe.db"
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("CREATE TABLE probe (id INTEGER PRIMARY KEY, body BLOB)")
        times = []
        for _ in range(commits):
            started = time.perf_counter()
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO probe (body) VALUES (?)", (b"x" * 500,))
            conn.execute("COMMIT")
            times.append((time.perf_counter() - started) * 1000)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return percentile(times, 0.5)


def machine(workdir: Path) -> dict[str, str]:
    """What the figures were measured on."""
    versions = []
    for name in ("litestar", "uvicorn", "uvloop", "httptools", "aiosqlite"):
        with contextlib.suppress(PackageNotFoundError):
            versions.append(f"{name} {version(name)}")
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{os.cpu_count()} CPUs (nproc), {_cpu_model()}, "
        f"{platform.system()} {platform.release()}",
        "software": f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        + ", ".join(versions),
        "disk": f"databases in a temporary directory on {_filesystem(workdir)}; a one-row "
        f"durable SQLite commit takes {commit_latency_ms(workdir):.2f} ms (median)",
        "command": " ".join(["python", *sys.argv]),
    }
