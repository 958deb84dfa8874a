"""The archive in an S3-compatible bucket (`store = "s3://bucket/prefix"`, with `[archive].s3`).

Needs the `s3` extra (`pip install 'vidhook[s3]'`), which brings aioboto3: of the clients
measured (tests/benchmarks/RESULTS.md), it is the one that can list and abort incomplete
multipart uploads, which `remove_partials` needs to clean up after a crash.

A put buffers one part (`PART_SIZE`) at a time: a video smaller than that is one PutObject, a
larger one a multipart upload, which S3 makes visible only when completed; a failed put aborts
its upload. Beside each object, `PREFIX/.meta/KEY.json` holds its size, SHA-256 and content
type (S3 fixes an object's metadata when the upload begins, before the SHA-256 is known); it is
written before the upload completes. With an endpoint (MinIO, R2, moto, ...), path-style
addresses are used, and checksums only where the service requires them, as such services
implement the newer default checksums unevenly.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncIterator, Awaitable, Iterator
from contextlib import AsyncExitStack, contextmanager
from typing import Any
from urllib.parse import urlsplit

import aioboto3
import msgspec
from aiobotocore.config import AioConfig
from botocore.exceptions import BotoCoreError, ClientError

from vidhook.receiver.archive.backends import StoredObject, check_key, etag_for, url_for
from vidhook.receiver.archive.s3_upload import S3Upload
from vidhook.receiver.archive_config import ArchiveConfig, S3Config
from vidhook.receiver.errors import ArchiveRetryable, ArchiveTooLarge, NotFound

__all__ = ["PART_SIZE", "S3Backend"]

PART_SIZE = 8 * 1024 * 1024
READ_CHUNK = 256 * 1024
META = ".meta"
_MISSING = ("404", "NoSuchKey", "NotFound", "NoSuchUpload")


class _Meta(msgspec.Struct, frozen=True):
    """What the sidecar object keeps about a video."""

    size: int
    sha256: str
    content_type: str


class S3Backend:
    """Archived videos as objects under `s3://bucket/prefix` (see the module docstring)."""

    def __init__(
        self,
        bucket: str,
        prefix: str,
        s3: S3Config,
        public_base_url: str = "",
        *,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        part_size: int = PART_SIZE,  # S3 refuses parts under 5 MiB but the last
    ) -> None:
        self.bucket = bucket
        self.part_size = part_size
        self.prefix = prefix.strip("/")
        self.public_base_url = public_base_url
        self._settings = s3
        self._config = _client_config(
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            retries={"max_attempts": 3, "mode": "standard"},
            s3={"addressing_style": "path" if s3.endpoint else "auto"},
        )
        self._stack = AsyncExitStack()
        self._client: Any = None

    @classmethod
    def from_config(cls, config: ArchiveConfig) -> S3Backend:
        """The backend `[archive]` describes."""
        parts = urlsplit(config.store)
        return cls(
            parts.netloc,
            parts.path,
            config.s3 or S3Config(),
            config.public_base_url,
            connect_timeout=config.seconds("connect_timeout"),
            read_timeout=config.seconds("read_timeout"),
        )

    async def _s3(self) -> Any:
        """The client, opened on first use and kept until `close()`."""
        if self._client is None:
            session = aioboto3.Session(
                aws_access_key_id=self._settings.access_key_id,
                aws_secret_access_key=self._settings.secret_access_key,
                region_name=self._settings.region,
            )
            client = session.client("s3", endpoint_url=self._settings.endpoint, config=self._config)
            self._client = await self._stack.enter_async_context(client)
        return self._client

    def _name(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _meta_name(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{META}/{key}.json" if self.prefix else f"{META}/{key}.json"

    async def put(
        self, key: str, chunks: AsyncIterator[bytes], content_type: str, *, max_bytes: int
    ) -> StoredObject:
        """Stream `chunks` into `key`: one PutObject, or a multipart upload past one part."""
        name, s3 = self._name(key), await self._s3()
        upload = S3Upload(s3, self.bucket, name, content_type)
        digest, size, buffer = hashlib.sha256(), 0, bytearray()
        with _store_errors(f"s3://{self.bucket}/{name}"):
            try:
                async for chunk in chunks:
                    size += len(chunk)
                    if size > max_bytes:
                        raise ArchiveTooLarge(
                            f"{key}: over [archive].max_bytes ({max_bytes} bytes)"
                        )
                    digest.update(chunk)
                    buffer += chunk
                    if len(buffer) >= self.part_size:
                        await upload.part(bytes(buffer))
                        buffer.clear()
                meta = _Meta(size, digest.hexdigest(), content_type)
                await self._put_meta(key, meta)
                await upload.finish(bytes(buffer))
            except BaseException:
                await upload.abort()
                raise
        return StoredObject(key, size, meta.sha256, content_type, etag_for(meta.sha256))

    async def _put_meta(self, key: str, meta: _Meta) -> None:
        s3 = await self._s3()
        body = msgspec.json.encode(meta)
        await s3.put_object(Bucket=self.bucket, Key=self._meta_name(key), Body=body)

    async def stat(self, key: str) -> StoredObject | None:
        """The object's size, SHA-256 and type from its sidecar (recomputed if it has none)."""
        s3 = await self._s3()
        with _store_errors(f"s3://{self.bucket}/{self._name(key)}"):
            head = await _or_none(s3.head_object(Bucket=self.bucket, Key=self._name(key)))
            if head is None:
                return None
            meta = await self._read_meta(key)
            if meta is None or meta.size != head["ContentLength"]:
                meta = await self._rebuild_meta(key, head)
        return StoredObject(key, meta.size, meta.sha256, meta.content_type, etag_for(meta.sha256))

    async def _read_meta(self, key: str) -> _Meta | None:
        s3 = await self._s3()
        answer = await _or_none(s3.get_object(Bucket=self.bucket, Key=self._meta_name(key)))
        if answer is None:
            return None
        body = answer["Body"]
        try:
            return msgspec.json.decode(await body.read(), type=_Meta)
        except msgspec.DecodeError:
            return None
        finally:
            body.close()

    async def _rebuild_meta(self, key: str, head: dict[str, Any]) -> _Meta:
        """Hash the object again (its sidecar is missing or stale) and write a new sidecar."""
        digest = hashlib.sha256()
        async for chunk in self.read(key):
            digest.update(chunk)
        content_type = head.get("ContentType") or "application/octet-stream"
        meta = _Meta(int(head["ContentLength"]), digest.hexdigest(), content_type)
        await self._put_meta(key, meta)
        return meta

    async def read(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """Bytes `start..end` (inclusive; None: to the end) of the object, in chunks."""
        s3, name = await self._s3(), self._name(key)
        ranged = {} if start == 0 and end is None else {"Range": f"bytes={start}-{_or(end)}"}
        with _store_errors(f"s3://{self.bucket}/{name}"):
            answer = await _or_none(s3.get_object(Bucket=self.bucket, Key=name, **ranged))
            if answer is None:
                raise NotFound(f"nothing is archived under {key}")
            body = answer["Body"]
            try:
                async for chunk in body.iter_chunks(READ_CHUNK):
                    yield chunk
            finally:
                body.close()  # a read stopped early must not leave its connection half-read

    async def delete(self, key: str) -> None:
        """Remove the object and its sidecar."""
        s3 = await self._s3()
        with _store_errors(f"s3://{self.bucket}/{self._name(key)}"):
            await s3.delete_object(Bucket=self.bucket, Key=self._name(key))
            await s3.delete_object(Bucket=self.bucket, Key=self._meta_name(key))

    async def remove_partials(self, *, older_than: float = 0.0) -> int:
        """Abort multipart uploads begun over `older_than` seconds ago under the prefix, and
        remove sidecars whose object is gone."""
        s3, before = await self._s3(), time.time() - older_than
        removed = 0
        with _store_errors(f"s3://{self.bucket}/{self.prefix}"):
            pages = s3.get_paginator("list_multipart_uploads").paginate(
                Bucket=self.bucket, Prefix=self.prefix
            )
            async for page in pages:
                for upload in page.get("Uploads", []):
                    if upload["Initiated"].timestamp() <= before:
                        await self._abort(upload["Key"], upload["UploadId"])
                        removed += 1
            removed += await self._remove_orphan_sidecars(before)
        return removed

    async def _abort(self, name: str, upload_id: str) -> None:
        s3 = await self._s3()
        await _or_none(s3.abort_multipart_upload(Bucket=self.bucket, Key=name, UploadId=upload_id))

    async def _remove_orphan_sidecars(self, before: float) -> int:
        s3, removed = await self._s3(), 0
        meta_prefix = f"{self.prefix}/{META}/" if self.prefix else f"{META}/"
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=meta_prefix)
        async for page in pages:
            for item in page.get("Contents", []):
                key = item["Key"].removeprefix(meta_prefix).removesuffix(".json")
                if item["LastModified"].timestamp() > before:
                    continue
                head = await _or_none(s3.head_object(Bucket=self.bucket, Key=self._name(key)))
                if head is None:
                    await s3.delete_object(Bucket=self.bucket, Key=item["Key"])
                    removed += 1
        return removed

    def public_url(self, key: str) -> str | None:
        """The object's address under `public_base_url`, the bucket's public address (the
        prefix is part of the object's path)."""
        return url_for(self.public_base_url, self._name(key))

    async def close(self) -> None:
        """Close the client and its connections."""
        await self._stack.aclose()
        self._client = None


def _client_config(**options: Any) -> AioConfig:
    """The client's config; checksums only where required, on botocore versions (1.36 on) that
    add them by default, which several S3-compatible services do not understand."""
    try:
        return AioConfig(
            **options,
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
    except TypeError:  # an older botocore: no default checksums to turn off
        return AioConfig(**options)


def _or(end: int | None) -> str:
    return "" if end is None else str(end)


async def _or_none(call: Awaitable[dict[str, Any]]) -> dict[str, Any] | None:
    """The answer, or None when S3 says the key or upload does not exist."""
    try:
        return await call
    except ClientError as exc:
        if str(exc.response.get("Error", {}).get("Code")) in _MISSING:
            return None
        raise


@contextmanager
def _store_errors(where: str) -> Iterator[None]:
    """Turn the client's failures into `ArchiveRetryable` naming the object."""
    try:
        yield
    except (ClientError, BotoCoreError, OSError) as exc:
        raise ArchiveRetryable(
            f"{where}: the bucket refused or failed: {exc}", code="store_error"
        ) from exc
