"""Archive backends for the shared behaviour suite: each factory opens backends on one store
for one test and closes them afterwards."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from tests.moto_s3 import ACCESS_KEY, REGION, SECRET_KEY, MotoServer
from vidhook.receiver.archive.backends import ArchiveBackend
from vidhook.receiver.archive.file_store import FileBackend
from vidhook.receiver.archive.s3_store import S3Backend
from vidhook.receiver.config import S3Config

BackendFactory = Callable[[], Awaitable[ArchiveBackend]]
TEST_PART_SIZE = 256 * 1024  # the moto server is started with this least part size


async def leftovers(backend: ArchiveBackend) -> int:
    """How many partial uploads or temp files the backend still holds (and removes them)."""
    return await backend.remove_partials()


async def file_backends(request: pytest.FixtureRequest) -> AsyncIterator[BackendFactory]:
    """FileBackends on one temporary directory."""
    root: Path = request.getfixturevalue("tmp_path") / "videos"

    async def open_one() -> ArchiveBackend:
        return FileBackend(root)

    yield open_one


async def s3_backends(request: pytest.FixtureRequest) -> AsyncIterator[BackendFactory]:
    """S3Backends on a bucket of their own in the session's moto server, with 256 KiB parts
    so that the suite's videos take multipart uploads."""
    server: MotoServer = request.getfixturevalue("moto")
    bucket = f"videos-{uuid.uuid4().hex[:12]}"
    server.create_bucket(bucket)
    opened: list[S3Backend] = []

    async def open_one() -> ArchiveBackend:
        backend = S3Backend(bucket, "archive", s3_settings(server), part_size=TEST_PART_SIZE)
        opened.append(backend)
        return backend

    yield open_one
    for backend in opened:
        await backend.close()


def s3_settings(server: MotoServer) -> S3Config:
    """`[archive].s3` for the moto server."""
    return S3Config(
        endpoint=server.endpoint,
        region=REGION,
        access_key_id=ACCESS_KEY,
        secret_access_key=SECRET_KEY,
    )


def backend_factories() -> list[object]:
    """The factories to run the suite on, named for the test ids."""
    return [pytest.param(file_backends, id="file"), pytest.param(s3_backends, id="s3")]
