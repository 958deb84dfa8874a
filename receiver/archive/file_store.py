"""The archive in a local directory (`store = "file:///var/lib/vidhook/videos"`).

A key `a/b.mp4` is the file `ROOT/a/b.mp4`; beside it, `ROOT/a/.b.mp4.meta` holds its size,
SHA-256 and content type (JSON), so `stat` answers after a restart without reading the video.
A put writes `.part-<random>` in the key's directory, fsyncs it, writes the sidecar the same
way, then renames the video into place and fsyncs the directory: the final name only ever
names a complete file. Files are 0600 and directories 0700, whatever the umask.

File I/O runs in worker threads, a megabyte at a time, so a slow disk never stalls the event
loop that serves callbacks.
"""

from __future__ import annotations

import asyncio
import hashlib
import mimetypes
import os
import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec

from vidhook.receiver.archive.backends import StoredObject, check_key, etag_for, url_for
from vidhook.receiver.errors import ArchiveRetryable, ArchiveTooLarge, NotFound
from vidhook.receiver.private_files import FILE_MODE, create_private_dirs

__all__ = ["FileBackend"]

PART_PREFIX = ".part-"
READ_CHUNK = 256 * 1024
WRITE_BATCH = 1024 * 1024


class _Meta(msgspec.Struct, frozen=True):
    """What the sidecar file keeps about a video."""

    size: int
    sha256: str
    content_type: str


class FileBackend:
    """Archived videos as files under `root` (see the module docstring)."""

    def __init__(self, root: Path, public_base_url: str = "") -> None:
        self.root = root
        self.public_base_url = public_base_url

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*check_key(key))

    async def put(
        self, key: str, chunks: AsyncIterator[bytes], content_type: str, *, max_bytes: int
    ) -> StoredObject:
        """Stream `chunks` to a temp file, then rename it to `key` once complete."""
        path = self._path(key)
        temp = path.parent / f"{PART_PREFIX}{secrets.token_hex(8)}"
        try:
            await asyncio.to_thread(create_private_dirs, path.parent)
            size, sha256 = await _write_file(temp, chunks, max_bytes, key)
            stored = StoredObject(key, size, sha256, content_type, etag_for(sha256))
            await asyncio.to_thread(_commit, temp, path, _Meta(size, sha256, content_type))
        except OSError as exc:
            raise ArchiveRetryable(
                f"cannot write the archive under {self.root}: {exc.strerror}", code="store_error"
            ) from exc
        finally:
            temp.unlink(missing_ok=True)
        return stored

    async def stat(self, key: str) -> StoredObject | None:
        """The file's size, SHA-256 and type from its sidecar (recomputed if it has none)."""
        return await asyncio.to_thread(self._stat, key, self._path(key))

    def _stat(self, key: str, path: Path) -> StoredObject | None:
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            return None
        meta = _read_meta(_meta_path(path))
        if meta is None or meta.size != size:  # no sidecar, or a put crashed between renames
            guessed = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            meta = _Meta(size, _hash_file(path), guessed)
            _write_meta(path, meta)
        return StoredObject(key, meta.size, meta.sha256, meta.content_type, etag_for(meta.sha256))

    async def read(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """Bytes `start..end` (inclusive; None: to the end) of the file, in chunks."""
        path = self._path(key)
        try:
            file = await asyncio.to_thread(path.open, "rb")
        except FileNotFoundError:
            raise NotFound(f"nothing is archived under {key}") from None
        try:
            file.seek(start)
            remaining = None if end is None else end - start + 1
            while remaining is None or remaining > 0:
                want = READ_CHUNK if remaining is None else min(READ_CHUNK, remaining)
                chunk = await asyncio.to_thread(file.read, want)
                if not chunk:
                    return
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk
        finally:
            file.close()

    async def delete(self, key: str) -> None:
        """Remove the file and its sidecar, and the directories left empty."""
        await asyncio.to_thread(self._delete, self._path(key))

    def _delete(self, path: Path) -> None:
        path.unlink(missing_ok=True)
        _meta_path(path).unlink(missing_ok=True)
        for directory in path.parents:
            if directory == self.root or self.root not in directory.parents:
                break
            try:
                directory.rmdir()
            except OSError:  # not empty
                break

    async def remove_partials(self, *, older_than: float = 0.0) -> int:
        """Remove `.part-*` files older than `older_than` seconds and sidecars without a video."""
        return await asyncio.to_thread(self._remove_partials, time.time() - older_than)

    def _remove_partials(self, before: float) -> int:
        removed = 0
        for directory, _, names in os.walk(self.root):
            for name in names:
                path = Path(directory, name)
                if name.startswith(PART_PREFIX):
                    stale = path.stat().st_mtime <= before
                elif name.startswith(".") and name.endswith(".meta"):
                    stale = not path.with_name(name[1 : -len(".meta")]).exists()
                else:
                    continue
                if stale:
                    path.unlink(missing_ok=True)
                    removed += 1
        return removed

    def public_url(self, key: str) -> str | None:
        """The file's address under `public_base_url` (a web server serving the directory)."""
        check_key(key)
        return url_for(self.public_base_url, key)

    async def close(self) -> None:
        """Nothing to release."""


async def _write_file(
    path: Path, chunks: AsyncIterator[bytes], max_bytes: int, key: str
) -> tuple[int, str]:
    """Write `chunks` to a new private file and fsync it; its size and SHA-256."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)  # os.open's mode passes through the umask
        digest, size, batch = hashlib.sha256(), 0, bytearray()
        async for chunk in chunks:
            size += len(chunk)
            if size > max_bytes:
                raise ArchiveTooLarge(f"{key}: over [archive].max_bytes ({max_bytes} bytes)")
            digest.update(chunk)
            batch += chunk
            if len(batch) >= WRITE_BATCH:
                await asyncio.to_thread(_write_all, fd, bytes(batch))
                batch.clear()
        await asyncio.to_thread(_write_all, fd, bytes(batch))
        await asyncio.to_thread(os.fsync, fd)
    finally:
        os.close(fd)
    return size, digest.hexdigest()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _meta_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.meta")


def _read_meta(path: Path) -> _Meta | None:
    try:
        return msgspec.json.decode(path.read_bytes(), type=_Meta)
    except (OSError, msgspec.DecodeError):
        return None


def _write_meta(path: Path, meta: _Meta) -> None:
    """Write the sidecar of the video at `path` through a temp file and a rename."""
    temp = path.with_name(f"{PART_PREFIX}{secrets.token_hex(8)}.meta")
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, FILE_MODE)
        try:
            os.fchmod(fd, FILE_MODE)
            _write_all(fd, msgspec.json.encode(meta))
            os.fsync(fd)
        finally:
            os.close(fd)
        temp.replace(_meta_path(path))
    finally:
        temp.unlink(missing_ok=True)


def _commit(temp: Path, path: Path, meta: _Meta) -> None:
    """Put the sidecar, then the video, in place, and make the renames durable."""
    _write_meta(path, meta)
    temp.replace(path)
    fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(READ_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
