"""A loopback "CDN" for the archive tests: an aiohttp server on 127.0.0.2 serving a video, which
a test can switch to the ways real CDNs fail (403 after expiry, trickling, redirects, a huge
Content-Length, an HTML page)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from aiohttp import web

CDN_HOST = "127.0.0.2"  # not 127.0.0.1, so a redirect to 127.0.0.1 goes somewhere else
HUGE = 3 * 1024**3
SEND_LIMIT = 256 * 1024**2  # the most the server ever writes to one answer


def small_mp4(size: int = 512 * 1024) -> bytes:
    """A small MP4-shaped file: an `ftyp` box, then an `mdat` box of random bytes."""
    ftyp = b"isom" + struct.pack(">I", 512) + b"isomiso2avc1mp41"
    payload = os.urandom(size)
    return (
        struct.pack(">I", 8 + len(ftyp))
        + b"ftyp"
        + ftyp
        + struct.pack(">I", 8 + len(payload))
        + b"mdat"
        + payload
    )


@dataclass
class Cdn:
    """The running CDN: its base URL, the video it serves and what it saw."""

    base: str
    video: bytes
    mode: str = "ok"  # ok | unsized | gone | trickle | huge | html | octet | error
    redirect_to: str = ""
    sent: int = 0  # body bytes written to the last answer before it ended
    hits: list[str] = field(default_factory=list)
    answered: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def sha256(self) -> str:
        """The SHA-256 of the video."""
        return hashlib.sha256(self.video).hexdigest()

    def url(self, path: str = "/v/video.mp4") -> str:
        """The address of `path` on this CDN."""
        return f"{self.base}{path}"


async def _write_counted(cdn: Cdn, response: web.StreamResponse, data: bytes) -> None:
    try:
        await response.write(data)
        cdn.sent += len(data)
    except (ConnectionError, RuntimeError):
        raise asyncio.CancelledError from None


async def _serve(cdn: Cdn, request: web.Request) -> web.StreamResponse:
    cdn.hits.append(request.path)
    if request.path.startswith("/redirect"):
        raise web.HTTPFound(cdn.redirect_to)
    if cdn.mode == "gone":
        return web.Response(status=403, text="Request has expired")
    if cdn.mode == "error":
        return web.Response(status=503, text="try later")
    if cdn.mode == "html":
        return web.Response(text="<html>login</html>", content_type="text/html")
    kind = "application/octet-stream" if cdn.mode == "octet" else "video/mp4"
    length = HUGE if cdn.mode == "huge" else len(cdn.video)
    response = web.StreamResponse(headers={"Content-Type": kind})
    if cdn.mode != "unsized":  # unsized: chunked, no Content-Length
        response.content_length = length
    await response.prepare(request)
    cdn.sent = 0
    try:
        await _send_body(cdn, response)
    finally:
        cdn.answered.set()
    return response


async def _send_body(cdn: Cdn, response: web.StreamResponse) -> None:
    if cdn.mode == "huge":
        block = bytes(1024 * 1024)
        while cdn.sent < SEND_LIMIT:
            await _write_counted(cdn, response, block)
        return
    if cdn.mode == "trickle":
        await _write_counted(cdn, response, cdn.video[:1024])
        await asyncio.wait_for(cdn.release.wait(), 30)  # until the test ends
        return
    for start in range(0, len(cdn.video), 64 * 1024):
        await _write_counted(cdn, response, cdn.video[start : start + 64 * 1024])


@dataclass
class CdnServer:
    """Start and stop a `Cdn` in this event loop."""

    video: bytes
    host: str = CDN_HOST
    runner: web.AppRunner | None = None
    sock: socket.socket | None = None

    async def start(self) -> Cdn:
        """Listen on a free port of `host`."""
        cdn_ref: list[Cdn] = []

        async def handler(request: web.Request) -> web.StreamResponse:
            return await _serve(cdn_ref[0], request)

        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", handler)
        self.runner = web.AppRunner(
            app, handle_signals=False, access_log=None, shutdown_timeout=0.1
        )
        await self.runner.setup()
        sock = self.sock = socket.socket()
        sock.bind((self.host, 0))
        port = sock.getsockname()[1]
        await web.SockSite(self.runner, sock).start()
        cdn_ref.append(Cdn(f"http://{self.host}:{port}", self.video))
        return cdn_ref[0]

    async def stop(self) -> None:
        """Stop serving."""
        if self.runner is not None:
            await self.runner.cleanup()
        if self.sock is not None:
            self.sock.close()  # aiohttp leaves a socket it was given open


async def running_cdn(video: bytes) -> AsyncIterator[Cdn]:
    """A fixture body: a CDN serving `video` for the length of one test."""
    server = CdnServer(video)
    cdn = await server.start()
    try:
        yield cdn
    finally:
        cdn.release.set()
        await server.stop()
