"""Archive throughput and memory: a video from a loopback CDN into each archive store.

    python tests/benchmarks/archive.py [--mib 1024] [--only devnull file s3]

A CDN process serves `--mib` MiB as video/mp4 on 127.0.0.1. Each target runs in a child process
of its own that downloads through the archive's downloader (`fetch.Fetcher`) and:
- `devnull`: drops the bytes (the baseline: the downloader alone, like curl to /dev/null);
- `file`: streams them into a FileBackend in a temporary directory;
- `s3`: streams them into an S3Backend on a local moto server (8 MiB parts).
Each child reports MB/s, its RSS after imports (before the download) and the highest RSS
sampled from /proc/self/status every 20 ms during it, and ru_maxrss.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.moto_s3 import ACCESS_KEY, REGION, SECRET_KEY, moto_server

BLOCK = 1024 * 1024


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def serve_cdn(port: int, mib: int) -> None:
    """The CDN process: every GET answers `mib` MiB of video/mp4, written a MiB at a time."""
    from aiohttp import web

    block = os.urandom(BLOCK)

    async def video(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "video/mp4"})
        response.content_length = mib * BLOCK
        await response.prepare(request)
        for _ in range(mib):
            await response.write(block)
        return response

    app = web.Application()
    app.router.add_get("/{name}", video)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


async def _archive(target: str, url: str, mib: int, endpoint: str) -> tuple[float, float]:
    """Archive once; the seconds it took and the highest RSS sampled meanwhile."""
    from vidhook.receiver.archive.fetch import Fetcher, FetchPolicy
    from vidhook.receiver.archive.file_store import FileBackend
    from vidhook.receiver.archive.s3_store import S3Backend
    from vidhook.receiver.config import S3Config

    peak = _rss_mb()

    async def sample() -> None:
        nonlocal peak
        while True:
            peak = max(peak, _rss_mb())
            await asyncio.sleep(0.02)

    sampler = asyncio.create_task(sample())
    policy = FetchPolicy(max_bytes=(mib + 1) * BLOCK, allow_private=True)
    started = time.perf_counter()
    async with Fetcher(policy) as fetcher, fetcher.get(url) as download:
        if target == "devnull":
            async for _ in download.chunks():
                pass
        elif target == "file":
            with tempfile.TemporaryDirectory() as root:
                await FileBackend(Path(root)).put(
                    "ev/0.mp4", download.chunks(), "video/mp4", max_bytes=policy.max_bytes
                )
        else:
            settings = S3Config(endpoint, REGION, ACCESS_KEY, SECRET_KEY)
            backend = S3Backend("bench", "archive", settings)
            await backend.put(
                "ev/0.mp4", download.chunks(), "video/mp4", max_bytes=policy.max_bytes
            )
            await backend.close()
    seconds = time.perf_counter() - started
    sampler.cancel()
    return seconds, max(peak, _rss_mb())


def child(target: str, url: str, mib: int, endpoint: str) -> None:
    """Archive in this process and print one JSON line of figures."""
    import aiohttp  # noqa: F401 - imported before the baseline, as the server has it loaded

    import vidhook.receiver.archive.s3_store  # noqa: F401

    before = _rss_mb()
    seconds, peak = asyncio.run(_archive(target, url, mib, endpoint))
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = {"target": target, "mb_s": mib * BLOCK / 1e6 / seconds, "before": before,
              "peak": peak, "maxrss": maxrss}  # fmt: skip
    print(json.dumps(result))


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def main() -> None:
    """Start the CDN and moto, run each target in a child process, print a table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=1024)
    parser.add_argument("--only", nargs="+", default=["devnull", "file", "s3"])
    parser.add_argument("--cdn", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cdn:
        serve_cdn(args.cdn, args.mib)
        return
    if args.child:
        child(args.child[0], args.child[1], args.mib, args.child[2])
        return
    port = _free_port()
    cdn = subprocess.Popen([sys.executable, __file__, "--mib", str(args.mib), "--cdn", str(port)])
    try:
        time.sleep(2)
        with moto_server() as server:
            server.create_bucket("bench")
            _run_targets(args, f"http://127.0.0.1:{port}/video.mp4", server.endpoint)
    finally:
        cdn.terminate()
        cdn.wait()


def _run_targets(args: argparse.Namespace, url: str, endpoint: str) -> None:
    print(f"{args.mib} MiB video/mp4 from a loopback CDN, one child process per target")
    print("| target | MB/s | RSS before MB | peak RSS MB (sampled) | ru_maxrss MB |")
    print("|---|---:|---:|---:|---:|")
    for target in args.only:
        command = [
            sys.executable,
            __file__,
            "--mib",
            str(args.mib),
            "--child",
            target,
            url,
            endpoint,
        ]
        out = subprocess.run(command, capture_output=True, text=True, check=False)
        if out.returncode:
            print(f"| {target} | failed: {out.stderr.strip()[-400:]!r} |")
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        figures = [f"{r[name]:.0f}" for name in ("mb_s", "before", "peak", "maxrss")]
        print(f"| {target} | {' | '.join(figures)} |")


if __name__ == "__main__":
    main()
