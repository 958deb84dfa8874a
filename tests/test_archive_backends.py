"""One behaviour suite for every archive backend: streamed puts that appear only when complete,
leave nothing behind when they fail, survive a restart, and read back by byte range."""

from __future__ import annotations

import hashlib
import os
import stat
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import msgspec
import pytest

from tests.archive_stores import (
    TEST_PART_SIZE,
    BackendFactory,
    backend_factories,
    leftovers,
    s3_settings,
)
from tests.moto_s3 import MotoServer, moto_server
from vidhook.receiver.archive.backends import ArchiveBackend, StoredObject, check_key, open_backend
from vidhook.receiver.archive.file_store import FileBackend
from vidhook.receiver.archive.s3_store import S3Backend
from vidhook.receiver.config import ArchiveConfig, S3Config
from vidhook.receiver.errors import ArchiveRetryable, ArchiveTooLarge, NotFound

DATA = os.urandom(700_000)  # several read chunks, not a multiple of any


async def _chunks(data: bytes, size: int = 100_000) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def _read(backend: ArchiveBackend, key: str, start: int = 0, end: int | None = None) -> bytes:
    return b"".join([chunk async for chunk in backend.read(key, start, end)])


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoServer]:
    """One real S3 server (moto) on loopback for this module's tests."""
    with moto_server(min_part_size=TEST_PART_SIZE) as server:
        yield server


@pytest.fixture(params=backend_factories())
async def make_backend(request: pytest.FixtureRequest) -> AsyncIterator[BackendFactory]:
    """A function that opens a backend on one store (the same store each call), closed after."""
    factory: Callable[..., AsyncIterator[BackendFactory]] = request.param
    async for opened in factory(request):
        yield opened


async def test_put_stores_the_bytes_with_their_hash(make_backend: BackendFactory) -> None:
    backend = await make_backend()
    stored = await backend.put("ev1/0.mp4", _chunks(DATA), "video/mp4", max_bytes=len(DATA))
    digest = hashlib.sha256(DATA).hexdigest()
    assert stored == StoredObject("ev1/0.mp4", len(DATA), digest, "video/mp4", f'"{digest}"')
    assert await _read(backend, "ev1/0.mp4") == DATA


async def test_stat_answers_after_a_restart(make_backend: BackendFactory) -> None:
    first = await make_backend()
    stored = await first.put("ev2/0.webm", _chunks(DATA), "video/webm", max_bytes=10**9)
    assert await (await make_backend()).stat("ev2/0.webm") == stored
    assert await first.stat("ev2/1.webm") is None


async def test_range_reads_are_inclusive(make_backend: BackendFactory) -> None:
    backend = await make_backend()
    await backend.put("ev3/0.mp4", _chunks(DATA), "video/mp4", max_bytes=10**9)
    assert await _read(backend, "ev3/0.mp4", 0, 0) == DATA[:1]
    assert await _read(backend, "ev3/0.mp4", 100, 299_999) == DATA[100:300_000]
    assert await _read(backend, "ev3/0.mp4", len(DATA) - 10) == DATA[-10:]
    assert await _read(backend, "ev3/0.mp4", 5, len(DATA) - 1) == DATA[5:]


async def test_reading_a_missing_key_is_not_found(make_backend: BackendFactory) -> None:
    with pytest.raises(NotFound):
        await _read(await make_backend(), "nothing/here.mp4")


async def test_nothing_is_visible_until_the_put_completes(make_backend: BackendFactory) -> None:
    backend = await make_backend()
    seen: list[StoredObject | None] = []

    async def watched() -> AsyncIterator[bytes]:
        async for chunk in _chunks(DATA):
            seen.append(await backend.stat("ev4/0.mp4"))
            yield chunk

    await backend.put("ev4/0.mp4", watched(), "video/mp4", max_bytes=10**9)
    assert seen and all(entry is None for entry in seen)
    assert await backend.stat("ev4/0.mp4") is not None


async def test_an_oversized_put_leaves_nothing_behind(make_backend: BackendFactory) -> None:
    backend = await make_backend()
    with pytest.raises(ArchiveTooLarge, match="max_bytes"):
        await backend.put("ev5/0.mp4", _chunks(DATA), "video/mp4", max_bytes=len(DATA) - 1)
    assert await backend.stat("ev5/0.mp4") is None
    assert await leftovers(backend) == 0


async def test_a_failing_source_leaves_nothing_behind(make_backend: BackendFactory) -> None:
    backend = await make_backend()

    async def broken() -> AsyncIterator[bytes]:
        yield DATA[:300_000]
        raise ArchiveRetryable("the CDN hung up")

    with pytest.raises(ArchiveRetryable, match="hung up"):
        await backend.put("ev6/0.mp4", broken(), "video/mp4", max_bytes=10**9)
    assert await backend.stat("ev6/0.mp4") is None
    assert await leftovers(backend) == 0


async def test_a_put_replaces_an_older_object(make_backend: BackendFactory) -> None:
    backend = await make_backend()
    await backend.put("ev7/0.mp4", _chunks(b"old"), "video/mp4", max_bytes=10**9)
    stored = await backend.put("ev7/0.mp4", _chunks(DATA), "video/mp4", max_bytes=10**9)
    assert await backend.stat("ev7/0.mp4") == stored
    assert await _read(backend, "ev7/0.mp4") == DATA


async def test_delete_removes_the_object(make_backend: BackendFactory) -> None:
    backend = await make_backend()
    await backend.put("ev8/0.mp4", _chunks(DATA), "video/mp4", max_bytes=10**9)
    await backend.delete("ev8/0.mp4")
    await backend.delete("ev8/0.mp4")  # gone already: fine
    assert await backend.stat("ev8/0.mp4") is None


async def test_an_empty_video_is_stored(make_backend: BackendFactory) -> None:
    backend = await make_backend()
    stored = await backend.put("ev9/0.mp4", _chunks(b""), "video/mp4", max_bytes=10)
    assert (stored.size, await _read(backend, "ev9/0.mp4")) == (0, b"")


@pytest.mark.parametrize(
    "key", ["", "/abs.mp4", "../up.mp4", "a/../b", "a//b", ".hidden", "a/.part-x", "a\\b"]
)
def test_unsafe_keys_are_refused(key: str) -> None:
    with pytest.raises(ValueError, match="not an archive key"):
        check_key(key)


def test_public_urls_come_from_the_base_url(tmp_path: Path) -> None:
    assert FileBackend(tmp_path).public_url("e/0.mp4") is None
    backend = FileBackend(tmp_path, "https://videos.example.com/")
    assert backend.public_url("e/0.mp4") == "https://videos.example.com/e/0.mp4"


async def test_files_are_private_whatever_the_umask(tmp_path: Path) -> None:
    backend = FileBackend(tmp_path / "videos")
    old = os.umask(0)
    try:
        await backend.put("ev/0.mp4", _chunks(DATA), "video/mp4", max_bytes=10**9)
    finally:
        os.umask(old)
    for path in [tmp_path / "videos", tmp_path / "videos" / "ev"]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o700
    for path in (tmp_path / "videos" / "ev").iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


async def test_remove_partials_cleans_what_a_crash_left(tmp_path: Path) -> None:
    backend = FileBackend(tmp_path)
    await backend.put("ev/0.mp4", _chunks(DATA), "video/mp4", max_bytes=10**9)
    (tmp_path / "ev" / ".part-0123abcd").write_bytes(b"half a video")  # a put killed midway
    (tmp_path / "ev" / ".1.mp4.meta").write_bytes(b"{}")  # its sidecar, without its video
    assert await backend.remove_partials(older_than=3600) == 1  # the sidecar: the part is recent
    assert await backend.remove_partials() == 1
    assert sorted(p.name for p in (tmp_path / "ev").iterdir()) == [".0.mp4.meta", "0.mp4"]
    assert await _read(backend, "ev/0.mp4") == DATA


async def test_a_lost_sidecar_is_rebuilt_from_the_file(tmp_path: Path) -> None:
    backend = FileBackend(tmp_path)
    stored = await backend.put("ev/0.mp4", _chunks(DATA), "video/mp4", max_bytes=10**9)
    (tmp_path / "ev" / ".0.mp4.meta").unlink()
    assert await backend.stat("ev/0.mp4") == stored
    meta = msgspec.json.decode((tmp_path / "ev" / ".0.mp4.meta").read_bytes())
    assert meta["sha256"] == stored.sha256


async def test_delete_removes_emptied_directories_but_not_the_root(tmp_path: Path) -> None:
    backend = FileBackend(tmp_path / "videos")
    await backend.put("a/b/0.mp4", _chunks(DATA), "video/mp4", max_bytes=10**9)
    await backend.delete("a/b/0.mp4")
    assert list((tmp_path / "videos").iterdir()) == []


def test_open_backend_opens_the_store_the_config_names(tmp_path: Path) -> None:
    backend = open_backend(ArchiveConfig(store=f"file://{tmp_path}/videos"))
    assert isinstance(backend, FileBackend) and backend.root == tmp_path / "videos"
    relative = open_backend(
        ArchiveConfig(store="file://./videos", public_base_url="https://v.example")
    )
    assert isinstance(relative, FileBackend) and relative.root == Path("videos")
    assert relative.public_url("e/0.mp4") == "https://v.example/e/0.mp4"


@pytest.fixture
async def s3(moto: MotoServer) -> AsyncIterator[tuple[S3Backend, str]]:
    """An S3Backend on a new bucket of the moto server, and the bucket's name."""
    bucket = f"videos-{uuid.uuid4().hex[:12]}"
    moto.create_bucket(bucket)
    backend = S3Backend(bucket, "archive", s3_settings(moto), part_size=TEST_PART_SIZE)
    yield backend, bucket
    await backend.close()


async def test_s3_a_failed_multipart_put_aborts_its_upload(
    moto: MotoServer, s3: tuple[S3Backend, str]
) -> None:
    backend, bucket = s3

    async def broken() -> AsyncIterator[bytes]:
        yield DATA[:600_000]  # two parts sent
        raise ArchiveRetryable("the CDN hung up")

    with pytest.raises(ArchiveRetryable):
        await backend.put("ev/0.mp4", broken(), "video/mp4", max_bytes=10**9)
    assert moto.incomplete_uploads(bucket) == []


async def test_s3_remove_partials_aborts_uploads_a_crash_left(
    moto: MotoServer, s3: tuple[S3Backend, str]
) -> None:
    backend, bucket = s3
    client = moto.client()
    client.create_multipart_upload(Bucket=bucket, Key="archive/ev/0.mp4")  # killed mid-put
    client.create_multipart_upload(Bucket=bucket, Key="elsewhere/x")  # not under the prefix
    # (moto dates every upload 2010-11-10, so `older_than` is tested on the file store only)
    assert await backend.remove_partials() == 1
    assert moto.incomplete_uploads(bucket) == ["elsewhere/x"]


async def test_s3_objects_are_multipart_past_one_part_and_typed(
    moto: MotoServer, s3: tuple[S3Backend, str]
) -> None:
    backend, bucket = s3
    await backend.put("ev/0.mp4", _chunks(DATA), "video/mp4", max_bytes=10**9)
    head = moto.client().head_object(Bucket=bucket, Key="archive/ev/0.mp4")
    assert head["ETag"].strip('"').endswith(f"-{-(-len(DATA) // TEST_PART_SIZE)}")
    assert head["ContentType"] == "video/mp4"
    assert backend.public_url("ev/0.mp4") is None


async def test_s3_a_lost_sidecar_is_rebuilt(moto: MotoServer, s3: tuple[S3Backend, str]) -> None:
    backend, bucket = s3
    stored = await backend.put("ev/0.mp4", _chunks(DATA), "video/mp4", max_bytes=10**9)
    moto.client().delete_object(Bucket=bucket, Key="archive/.meta/ev/0.mp4.json")
    assert await backend.stat("ev/0.mp4") == stored


async def test_s3_an_unreachable_bucket_is_retryable(tmp_path: Path) -> None:
    settings = S3Config(endpoint="http://127.0.0.1:9", access_key_id="k", secret_access_key="s")
    backend = S3Backend("videos", "", settings, connect_timeout=1, read_timeout=1)
    try:
        with pytest.raises(ArchiveRetryable, match=r"s3://videos/ev/0\.mp4"):
            await backend.put("ev/0.mp4", _chunks(b"x"), "video/mp4", max_bytes=10)
    finally:
        await backend.close()


def test_open_backend_opens_an_s3_store() -> None:
    config = ArchiveConfig(
        store="s3://videos/vidhook/archive",
        s3=S3Config(endpoint="http://127.0.0.1:9"),
        public_base_url="https://videos.example.com",
    )
    backend = open_backend(config)
    assert isinstance(backend, S3Backend)
    assert (backend.bucket, backend.prefix) == ("videos", "vidhook/archive")
    assert backend.public_url("e/0.mp4") == "https://videos.example.com/vidhook/archive/e/0.mp4"
