"""Where a server's CPU goes per callback, thread by thread, under the ingest load of run.py.

Starts one system as run.py does (`vidhook serve` with its config, or a baseline), warms it
up, then reads every thread's CPU time from /proc/PID/task/*/stat around one wrk run and
prints each thread's CPU µs per answered callback. With `--py-spy FILE` it also records a
py-spy profile of the measured run (raw folded stacks, for flame graphs or counting).

Run from the repository root: `python tests/benchmarks/threads.py vidhook|bare [--py-spy FILE]`.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from harness import _TICK, HERE, free_port, service, wrk
from run import HOOK_PATH, vidhook_command, vidhook_config


def thread_ticks(pid: int) -> dict[str, tuple[str, int]]:
    """Each thread's name and CPU ticks (user + system) so far, by thread id."""
    ticks = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        name = (task / "comm").read_text().strip()
        fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        ticks[task.name] = (name, int(fields[11]) + int(fields[12]))
    return ticks


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("system", choices=["vidhook", "bare"])
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--py-spy", dest="py_spy", help="also record a raw py-spy profile here")
    args = parser.parse_args()
    root, port = Path(tempfile.mkdtemp(prefix="vidhook-threads-")), free_port()
    if args.system == "vidhook":
        command = vidhook_command(vidhook_config(root, port, "none"))
    else:
        command = [sys.executable, str(HERE / "baselines.py"), "bare", "--port", str(port)]
    try:
        with service(command, port, root / "server.log", cwd=root) as running:
            pid, url = running.process.pid, running.url + HOOK_PATH
            wrk(url, args.warmup, args.connections, "warm")
            spy = None
            if args.py_spy:
                spy = subprocess.Popen(
                    ["py-spy", "record", "-p", str(pid), "-d", f"{args.duration:g}", "-r", "200",
                     "-f", "raw", "-o", args.py_spy, "--nonblocking", "--threads"],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )  # fmt: skip
            before = thread_ticks(pid)
            report = wrk(url, args.duration, args.connections, "run")
            after = thread_ticks(pid)
            if spy is not None:
                spy.wait()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"{args.system}: {report.requests} callbacks, {report.rps:,.0f}/s")
    total = 0.0
    for tid, (name, ticks) in sorted(after.items()):
        used = (ticks - before.get(tid, (name, 0))[1]) / _TICK * 1e6 / report.requests
        total += used
        if used >= 0.5:
            print(f"  thread {tid} ({name}): {used:.0f} CPU µs/callback")
    print(f"  all threads: {total:.0f} CPU µs/callback")
    return 0


if __name__ == "__main__":
    sys.exit(main())
