"""`GET /media/{event_id}/{n}` (and HEAD): an archived video behind a signed, expiring link.

Served on the public listener, so Slack, email and downstream readers can follow the links
vidhook hands out. The body streams from the archive store a chunk at a time, never whole in
memory; a single `Range` is answered 206 (416 when it starts past the end), as players need to
seek. An S3 store without `public_base_url` is streamed through here too, not redirected to a
presigned URL: the link's expiry and signature stay vidhook's own, the bucket stays private,
and a player's range requests all come to one address.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from typing import Any

from litestar import Request, route
from litestar.di import NamedDependency
from litestar.enums import HttpMethod
from litestar.params import FromPath
from litestar.types import ASGIApp, Receive, Scope, Send

from vidhook.receiver.archive.backends import ArchiveBackend, StoredObject
from vidhook.receiver.archive_setup import Archive
from vidhook.receiver.errors import Forbidden, NotFound
from vidhook.receiver.http_errors import errors
from vidhook.receiver.store import Store

__all__ = ["MediaStream", "Unsatisfiable", "byte_range", "serve_media"]

_RANGE = re.compile(r"bytes=(\d*)-(\d*)")
_MAX_DIGITS = 19  # past this a number is no offset any file has


class Unsatisfiable(ValueError):
    """The range starts past the end of the video."""


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive (start, end) a `Range` header asks for; None to send the whole video
    (no header, or one this does not serve: several ranges, another unit); `Unsatisfiable`
    when the range starts past the end."""
    match = _RANGE.fullmatch((header or "").strip())
    if match is None:
        return None
    first, last = match.groups()
    if (not first and not last) or len(first) > _MAX_DIGITS or len(last) > _MAX_DIGITS:
        return None
    if not first:  # the last N bytes
        length = int(last)
        if length == 0 or size == 0:
            raise Unsatisfiable
        return max(0, size - length), size - 1
    start = int(first)
    if start >= size:
        raise Unsatisfiable
    end = size - 1 if not last else min(int(last), size - 1)
    return None if end < start else (start, end)


class MediaStream:
    """The ASGI answer for one video: its headers, then (for GET) its bytes from the store,
    stopping when the client goes away."""

    def __init__(
        self,
        status: int,
        headers: dict[str, str],
        body: AsyncIterator[bytes] | None,
    ) -> None:
        self.status = status
        self.headers = [(k.encode(), v.encode()) for k, v in headers.items()]
        self.body = body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status, "headers": self.headers})
        if self.body is not None:
            watch = asyncio.create_task(_disconnected(receive))
            try:
                async for chunk in self.body:
                    if watch.done():
                        return
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            finally:
                watch.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watch
        await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


@route(
    "/media/{event_id:str}/{n:str}",
    http_method=[HttpMethod.GET, HttpMethod.HEAD],
    summary="An archived video",
    tags=["media"],
    responses=errors(403, 404),
    include_in_schema=True,
)
async def serve_media(
    request: Request[Any, Any, Any],
    event_id: FromPath[str],
    n: FromPath[str],
    store: NamedDependency[Store],
    archive: NamedDependency[Archive | None],
) -> ASGIApp:
    """The `n`th archived video of an event, behind a link from the event's `archived_urls`
    (`exp` and `sig` query parameters): 403 for a bad or expired signature, 404 when there is
    no such copy (yet). Supports `Range` (one range) and `HEAD`."""
    index = int(n) if n.isdigit() and len(n) < 6 else -1
    if archive is None or index < 0:
        raise NotFound("no such archived video", code="unknown_media")
    exp, sig = request.query_params.get("exp", ""), request.query_params.get("sig", "")
    valid = exp.isdigit() and len(exp) < 12 and sig
    if not valid or not await archive.links.verify(event_id, index, int(exp), sig):
        raise Forbidden("the link's signature is wrong or it has expired", code="bad_signature")
    job = await store.archived_copy(event_id[:64], index)
    stored = None if job is None or job.key is None else await archive.backend.stat(job.key)
    if stored is None:
        raise NotFound("no archived copy of that video (yet)", code="unknown_media")
    return _answer(archive.backend, stored, request)


def _answer(
    backend: ArchiveBackend, stored: StoredObject, request: Request[Any, Any, Any]
) -> ASGIApp:
    headers = {
        "content-type": stored.content_type,
        "etag": stored.etag,
        "accept-ranges": "bytes",
        "cache-control": "private, max-age=3600",
        "x-content-type-options": "nosniff",
    }
    head = request.method == HttpMethod.HEAD
    if request.headers.get("if-none-match") == stored.etag:
        return MediaStream(304, {k: headers[k] for k in ("etag", "cache-control")}, None)
    try:
        wanted = byte_range(request.headers.get("range"), stored.size)
    except Unsatisfiable:
        headers = {"content-range": f"bytes */{stored.size}", "content-length": "0"}
        return MediaStream(416, headers, None)
    status, (start, end) = (200, (0, stored.size - 1)) if wanted is None else (206, wanted)
    if status == 206:
        headers["content-range"] = f"bytes {start}-{end}/{stored.size}"
    headers["content-length"] = str(max(0, end - start + 1))
    body = None if head or stored.size == 0 else backend.read(stored.key, start, end)
    return MediaStream(status, headers, body)
