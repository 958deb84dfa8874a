"""A real S3 protocol server on loopback for the archive tests and benchmarks: moto in server
mode, as a child process on a free port, with a bucket made for the caller."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

ACCESS_KEY = "vidhook-test-key"
SECRET_KEY = "vidhook-test-secret"
REGION = "us-east-1"


@dataclass(frozen=True)
class MotoServer:
    """A running moto server: its endpoint and the credentials it is given."""

    endpoint: str

    def client(self) -> Any:
        """A boto3 client of this server (boto3 comes with moto) to look behind a backend."""
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )

    def create_bucket(self, name: str) -> None:
        """Create a bucket."""
        self.client().create_bucket(Bucket=name)

    def incomplete_uploads(self, bucket: str) -> list[str]:
        """The keys of the multipart uploads begun and neither completed nor aborted."""
        answer = self.client().list_multipart_uploads(Bucket=bucket)
        return [upload["Key"] for upload in answer.get("Uploads", [])]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_for(port: int, process: subprocess.Popen[bytes], limit: float = 60.0) -> None:
    """Until the server accepts connections; fail if it exits or takes over `limit` seconds."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"moto_server exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.1)
    raise RuntimeError("moto_server did not start listening")


@contextlib.contextmanager
def moto_server(log: Path | None = None, min_part_size: int | None = None) -> Iterator[MotoServer]:
    """Run `moto_server` on 127.0.0.1 and a free port until the block ends; `min_part_size`
    lowers S3's 5 MiB least part size, so tests can make multipart uploads of small videos."""
    port = _free_port()
    command = [
        str(Path(sys.executable).with_name("moto_server")),
        "-H",
        "127.0.0.1",
        "-p",
        str(port),
    ]
    env = {**os.environ, "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}
    if min_part_size is not None:
        env["S3_UPLOAD_PART_MIN_SIZE"] = str(min_part_size)
    output = log.open("wb") if log is not None else subprocess.DEVNULL
    process = subprocess.Popen(command, stdout=output, stderr=output, env=env)
    try:
        _wait_for(port, process)
        yield MotoServer(f"http://127.0.0.1:{port}")
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if log is not None and not isinstance(output, int):
            output.close()
