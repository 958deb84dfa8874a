"""Where archived videos are kept: one small protocol, a directory and an S3 bucket behind it.

    backend = open_backend(config)          # from [archive].store
    stored = await backend.put(key, download.chunks(), download.content_type,
                               max_bytes=config.max_bytes)
    await backend.stat(key)                 # StoredObject, or None when there is none
    async for chunk in backend.read(key, start, end): ...     # `end` inclusive, as in Range
    await backend.delete(key)               # missing keys are fine
    await backend.remove_partials()         # at start: what a crashed put left behind
    backend.public_url(key)                 # from public_base_url, else None
    await backend.close()

What every backend promises:
- `put` streams: chunks go to the disk or the bucket as they come, never whole in memory;
  the SHA-256 and size are computed on the way. Nothing is visible under `key` until the last
  byte is safely written (a file is renamed into place after fsync; an S3 object appears when
  its upload completes). A put that fails for any reason (over `max_bytes`: `ArchiveTooLarge`;
  the source's own error, cancellation) leaves nothing behind, neither the object nor a part;
  a put over an existing key replaces it whole.
- A key is a relative path of `/`-separated parts made of letters, digits, `-`, `_` and `.`,
  none of them empty, `.` or `..` and none starting with `.` (the backends keep their own
  files under such names); anything else is a `ValueError`, the caller's mistake.
- `stat` and `read` work after a restart: the content type and SHA-256 are kept beside the
  bytes (a sidecar file; S3 object metadata). `etag` is the SHA-256 in quotes, ready for an
  `ETag` header, so it is the same on every backend and after a copy.
- `read(key, start, end)` streams bytes `start..end` inclusive (end None: to the last byte);
  a missing key raises `NotFound` when iterated; the caller checks the range against `stat`.
- `remove_partials(older_than=...)` removes temp files and incomplete multipart uploads
  started more than `older_than` seconds ago and returns how many it removed: with several
  vidhook instances sharing a store, pass more than `[archive].total_timeout` so a put in
  flight elsewhere is left alone.
- Failures of the store itself (disk full, bucket unreachable) raise `ArchiveRetryable`.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol
from urllib.parse import quote, urlsplit

import msgspec

from vidhook.receiver.archive_config import ArchiveConfig
from vidhook.receiver.errors import ConfigError

__all__ = ["ArchiveBackend", "StoredObject", "check_key", "etag_for", "open_backend", "url_for"]

_PART = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*")


class StoredObject(msgspec.Struct, frozen=True):
    """One archived video as its backend keeps it."""

    key: str
    size: int
    sha256: str  # hex
    content_type: str
    etag: str  # the quoted SHA-256, as an ETag header carries it


class ArchiveBackend(Protocol):
    """A place to keep archived videos under keys (see the module docstring)."""

    async def put(
        self, key: str, chunks: AsyncIterator[bytes], content_type: str, *, max_bytes: int
    ) -> StoredObject:
        """Stream `chunks` into `key`, visible only once complete."""
        ...

    async def stat(self, key: str) -> StoredObject | None:
        """What is stored under `key`, or None."""
        ...

    def read(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """Bytes `start..end` (inclusive) of `key`, in chunks."""
        ...

    async def delete(self, key: str) -> None:
        """Remove `key`; a missing key is not an error."""
        ...

    async def remove_partials(self, *, older_than: float = 0.0) -> int:
        """Remove what crashed puts left behind; how many things were removed."""
        ...

    def public_url(self, key: str) -> str | None:
        """The object's public address under `public_base_url`, or None without one."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


def check_key(key: str) -> list[str]:
    """The parts of a valid key; `ValueError` for an absolute path, `..` or a hidden part."""
    parts = key.split("/")
    if not key or not all(_PART.fullmatch(part) for part in parts):
        raise ValueError(f"{key!r} is not an archive key (relative, safe parts, none hidden)")
    return parts


def etag_for(sha256: str) -> str:
    """The ETag of an object with this SHA-256."""
    return f'"{sha256}"'


def url_for(public_base_url: str, key: str) -> str | None:
    """`key` under `public_base_url`, or None when there is no public base URL."""
    if not public_base_url:
        return None
    return f"{public_base_url.rstrip('/')}/{quote(key)}"


def open_backend(config: ArchiveConfig) -> ArchiveBackend:
    """The backend `[archive].store` names; `ConfigError` when its library is not installed."""
    parts = urlsplit(config.store)
    if parts.scheme == "file":
        from vidhook.receiver.archive.file_store import FileBackend

        return FileBackend(Path(parts.netloc + parts.path), config.public_base_url)
    if parts.scheme == "s3":
        try:
            from vidhook.receiver.archive.s3_store import S3Backend
        except ImportError:
            raise ConfigError(
                f"archive.store: {config.store} needs the S3 client, which is not installed:"
                " pip install 'vidhook[s3]'"
            ) from None
        return S3Backend.from_config(config)
    raise ConfigError(f"archive.store: {config.store!r} is neither file:// nor s3://")
