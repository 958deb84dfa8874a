"""Archive backends for the shared behaviour suite: each factory opens backends on one store
for one test and closes them afterwards."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from vidhook.receiver.archive.backends import ArchiveBackend
from vidhook.receiver.archive.file_store import FileBackend

BackendFactory = Callable[[], Awaitable[ArchiveBackend]]


async def leftovers(backend: ArchiveBackend) -> int:
    """How many partial uploads or temp files the backend still holds (and removes them)."""
    return await backend.remove_partials()


async def file_backends(request: pytest.FixtureRequest) -> AsyncIterator[BackendFactory]:
    """FileBackends on one temporary directory."""
    root: Path = request.getfixturevalue("tmp_path") / "videos"

    async def open_one() -> ArchiveBackend:
        return FileBackend(root)

    yield open_one


def backend_factories() -> list[object]:
    """The factories to run the suite on, named for the test ids."""
    return [pytest.param(file_backends, id="file")]
