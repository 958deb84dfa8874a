"""Compare S3 clients for the archive: streaming an async iterator into a multipart upload.

    pip install obstore miniopy-async      # aioboto3 comes with the `s3` extra
    python tests/benchmarks/s3_clients.py [--mib 1024] [--clients obstore aioboto3 miniopy-async]

Each client runs in a child process of its own against a local moto server, uploading `--mib`
MiB produced by an async generator in 256 KiB chunks (as the archive's downloader yields
them). Printed per client: MB/s, the child's RSS before the upload and its peak (ru_maxrss),
whether the object was stored as a multipart upload (its ETag ends in -N) and what the client
cannot do for the archive. Install sizes are measured apart, by `du -sh` of fresh virtual
environments (see RESULTS.md).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.moto_s3 import ACCESS_KEY, REGION, SECRET_KEY, moto_server

CHUNK = 256 * 1024
PART = 8 * 1024 * 1024
BUCKET = "bench"


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def _chunks(total: int) -> AsyncIterator[bytes]:
    block = os.urandom(1024 * 1024)
    sent = 0
    while sent < total:
        for start in range(0, len(block), CHUNK):
            yield block[start : start + CHUNK]
        sent += len(block)


async def _obstore(endpoint: str, total: int) -> str:
    from obstore import put_async
    from obstore.store import S3Store

    store = S3Store(
        BUCKET,
        endpoint=endpoint,
        region=REGION,
        access_key_id=ACCESS_KEY,
        secret_access_key=SECRET_KEY,
        client_options={"allow_http": True},
    )
    result = await put_async(store, "obj", _chunks(total), chunk_size=PART, max_concurrency=2)
    return str(result["e_tag"])


async def _aioboto3(endpoint: str, total: int) -> str:
    import aioboto3

    session = aioboto3.Session(
        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY, region_name=REGION
    )
    async with session.client("s3", endpoint_url=endpoint) as s3:
        upload = await s3.create_multipart_upload(Bucket=BUCKET, Key="obj")
        parts, buffer = [], bytearray()

        async def send(data: bytes) -> None:
            number = len(parts) + 1
            answer = await s3.upload_part(
                Bucket=BUCKET, Key="obj", UploadId=upload["UploadId"], PartNumber=number, Body=data
            )
            parts.append({"PartNumber": number, "ETag": answer["ETag"]})

        async for chunk in _chunks(total):
            buffer += chunk
            if len(buffer) >= PART:
                await send(bytes(buffer))
                buffer.clear()
        if buffer:
            await send(bytes(buffer))
        done = await s3.complete_multipart_upload(
            Bucket=BUCKET, Key="obj", UploadId=upload["UploadId"], MultipartUpload={"Parts": parts}
        )
        return str(done["ETag"])


class _SyncReader:
    """miniopy-async reads with a synchronous read(): bytes made on the spot, no network."""

    def __init__(self, total: int) -> None:
        self.left, self.block = total, os.urandom(1024 * 1024)

    def read(self, size: int = -1) -> bytes:
        size = self.left if size < 0 else min(size, self.left)
        out = (self.block * (size // len(self.block) + 1))[:size]
        self.left -= size
        return out


async def _miniopy_async(endpoint: str, total: int) -> str:
    from miniopy_async import Minio

    client = Minio(
        endpoint.removeprefix("http://"),
        access_key=ACCESS_KEY,
        secret_key=SECRET_KEY,
        secure=False,
        region=REGION,
    )
    result = await client.put_object(
        BUCKET,
        "obj",
        _SyncReader(total),
        -1,
        part_size=PART,
        num_parallel_uploads=1,  # type: ignore[arg-type]
    )
    return str(result.etag)


CLIENTS = {"obstore": _obstore, "aioboto3": _aioboto3, "miniopy-async": _miniopy_async}
LIMITS = {
    "obstore": "no listing or abort of incomplete multipart uploads (crash leftovers unfindable)",
    "aioboto3": "multipart driven by hand (create, upload_part, complete)",
    "miniopy-async": "put_object reads a synchronous read(): no async iterator; multipart"
    " listing only through private methods",
}


def child(name: str, endpoint: str, mib: int) -> None:
    """Upload in this process and print one JSON line of figures."""
    before = _rss_mb()
    started = time.perf_counter()
    etag = asyncio.run(CLIENTS[name](endpoint, mib * 1024 * 1024))
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "client": name,
                "mb_s": mib * 1.048576 / seconds,
                "rss_before_mb": before,
                "peak_rss_mb": peak,
                "multipart": "-" in etag.strip('"'),
            }
        )
    )


def main() -> None:
    """Start moto, run each client in a child process, print a table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=1024)
    parser.add_argument("--clients", nargs="+", default=list(CLIENTS))
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.mib)
        return
    print(f"{args.mib} MiB from an async generator, {PART // 2**20} MiB parts, moto server")
    print("| client | MB/s | RSS before MB | peak RSS MB | multipart | cannot |")
    print("|---|---:|---:|---:|---|---|")
    with moto_server() as server:
        server.create_bucket(BUCKET)
        for name in args.clients:
            command = [
                sys.executable,
                __file__,
                "--mib",
                str(args.mib),
                "--child",
                name,
                server.endpoint,
            ]
            out = subprocess.run(command, capture_output=True, text=True, check=False)
            if out.returncode:
                print(f"| {name} | failed: {out.stderr.strip()[-300:]!r} |")
                continue
            r = json.loads(out.stdout.strip().splitlines()[-1])
            print(
                f"| {name} | {r['mb_s']:.0f} | {r['rss_before_mb']:.0f} | {r['peak_rss_mb']:.0f}"
                f" | {'yes' if r['multipart'] else 'no'} | {LIMITS[name]} |"
            )
            server.client().delete_object(Bucket=BUCKET, Key="obj")


if __name__ == "__main__":
    main()
