"""Files vidhook creates are 0600 and its directories 0700 even under a permissive umask; files
that already exist keep the operator's mode, and a readable database is warned about."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import structlog
from sink_servers import make_delivery

from vidhook.receiver.store import open_store
from vidhook.routes.sinks.base import SinkContext
from vidhook.routes.sinks.file import FileConfig, FileSink


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask_022() -> Iterator[None]:
    """The common default umask, which would leave new files 0644 and directories 0755."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


async def test_a_new_database_and_its_wal_and_shm_are_0600(tmp_path: Path, umask_022: None):
    (tmp_path / "state").mkdir()
    (tmp_path / "state").chmod(0o755)
    path = tmp_path / "state" / "data" / "db" / "vidhook.db"
    store = open_store(f"sqlite:///{path}")
    await store.open()
    try:
        await store.set_meta("k", "v")  # a commit, so the WAL holds a frame
        created = [path, path.with_name("vidhook.db-wal"), path.with_name("vidhook.db-shm")]
        assert {p.name: oct(mode(p)) for p in created} == {p.name: "0o600" for p in created}
        assert oct(mode(tmp_path / "state" / "data")) == "0o700"
        assert oct(mode(tmp_path / "state" / "data" / "db")) == "0o700"
    finally:
        await store.close()
    assert oct(mode(tmp_path / "state")) == "0o755", "an existing directory keeps its mode"


async def test_an_existing_database_keeps_its_mode_and_a_readable_one_is_warned_of(
    tmp_path: Path,
) -> None:
    path = tmp_path / "vidhook.db"
    path.touch()
    path.chmod(0o644)
    store = open_store(f"sqlite:///{path}")
    with structlog.testing.capture_logs() as logs:
        await store.open()
    await store.close()
    assert oct(mode(path)) == "0o644"
    [warning] = [line for line in logs if line["log_level"] == "warning"]
    assert warning["mode"] == "0644"
    assert warning["fix"] == f"chmod 600 {path}"
    assert "readable by other users" in warning["event"]

    path.chmod(0o600)
    with structlog.testing.capture_logs() as logs:
        await store.open()
    await store.close()
    assert [line for line in logs if line["log_level"] == "warning"] == []


async def test_the_file_sink_creates_its_file_0600_and_directories_0700(
    tmp_path: Path, umask_022: None
) -> None:
    path = tmp_path / "out" / "events" / "events.jsonl"
    async with httpx.AsyncClient() as client:
        sink = FileSink("file", FileConfig(type="file", path=str(path)), SinkContext(http=client))
        await sink.send(make_delivery())
        await sink.send(make_delivery())
    assert len(path.read_bytes().splitlines()) == 2
    assert oct(mode(path)) == "0o600"
    assert oct(mode(tmp_path / "out")) == "0o700"
    assert oct(mode(tmp_path / "out" / "events")) == "0o700"


async def test_the_file_sink_leaves_an_existing_files_mode(tmp_path: Path, umask_022: None):
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"")
    path.chmod(0o640)
    async with httpx.AsyncClient() as client:
        sink = FileSink("file", FileConfig(type="file", path=str(path)), SinkContext(http=client))
        await sink.send(make_delivery())
    assert oct(mode(path)) == "0o640"
    assert len(path.read_bytes().splitlines()) == 1


def test_the_systemd_unit_sets_a_private_umask() -> None:
    unit = (Path(__file__).resolve().parents[1] / "deploy" / "vidhook.service").read_text()
    assert "\nUMask=0077\n" in unit
