"""The archive's downloader: fetch a provider's video URL safely, as a stream of chunks.

    async with Fetcher(FetchPolicy.from_config(config)) as fetcher:
        async with fetcher.get(url) as download:
            download.content_type, download.length   # checked before any body byte is read
            async for chunk in download.chunks(): ...

What it promises (each refusal is an `ArchiveFinal`, each passing failure an
`ArchiveRetryable`, both from `vidhook.receiver.errors`; `exc.code` names the reason):
- only http and https; at most `MAX_REDIRECTS` redirects, followed by hand, each hop's scheme,
  host (`allow_hosts` globs) and addresses checked again;
- the host's addresses are checked (`addresses.refusal`) and the connection goes to exactly the
  address checked: a dedicated aiohttp session whose resolver filters, plus a check of IP literals,
  which aiohttp never hands to a resolver; no proxy from the environment, which would resolve the
  name itself;
- connect, read (between bytes) and total (all hops and the body) timeouts;
- a `Content-Length` over `max_bytes` is refused before any body byte is read, and a body that
  grows past it is cut off;
- the content type must be `video/*`, or `application/octet-stream` / `binary/octet-stream`
  when the URL's path ends in a video extension;
- 403, 404 and 410 are final ("the link expired or is gone"), so is any other 4xx but 408 and
  429; 5xx, 408, 429, timeouts and connection errors are retryable.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from vidhook.receiver.archive.addresses import IPAddress, IPNetwork, host_allowed, parse_ip, refusal
from vidhook.receiver.archive_config import ArchiveConfig
from vidhook.receiver.errors import ArchiveFinal, ArchiveRetryable, ArchiveTooLarge

__all__ = ["MAX_REDIRECTS", "Download", "FetchPolicy", "Fetcher", "fetch"]

MAX_REDIRECTS = 5
CHUNK_SIZE = 256 * 1024
VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mov", ".webm", ".mkv", ".avi", ".mpeg", ".mpg", ".ts")
_OCTET_STREAMS = ("application/octet-stream", "binary/octet-stream")
_REDIRECTS = (301, 302, 303, 307, 308)
_GONE = (403, 404, 410)


@dataclass(frozen=True)
class FetchPolicy:
    """The downloader's limits, usually from `[archive]`."""

    max_bytes: int
    allow_private: bool = False
    allow_hosts: tuple[str, ...] = ()
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    total_timeout: float = 1800.0
    trusted_networks: tuple[IPNetwork, ...] = ()  # allowed even without allow_private

    @classmethod
    def from_config(cls, config: ArchiveConfig) -> FetchPolicy:
        """The policy `[archive]` describes."""
        return cls(
            max_bytes=config.max_bytes,
            allow_private=config.allow_private,
            allow_hosts=tuple(config.allow_hosts),
            connect_timeout=config.seconds("connect_timeout"),
            read_timeout=config.seconds("read_timeout"),
            total_timeout=config.seconds("total_timeout"),
        )


class CheckingResolver(AbstractResolver):
    """Resolves a name, then refuses it when any of its addresses is not allowed; aiohttp
    connects only to the addresses this returns."""

    def __init__(self, policy: FetchPolicy) -> None:
        self._inner = aiohttp.ThreadedResolver()
        self._policy = policy

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """The addresses of `host`, all of them allowed."""
        results = await self._inner.resolve(host, port, family)
        for result in results:
            address = parse_ip(result["host"])
            reason = "not an IP address" if address is None else _refusal(address, self._policy)
            if reason is not None:  # not an OSError, so aiohttp passes it on unwrapped
                raise ArchiveFinal(
                    f"refused to download from {host}: {reason}", code="address_refused"
                )
        return results

    async def close(self) -> None:
        """Close the resolver underneath."""
        await self._inner.close()


@dataclass
class Download:
    """An answer whose headers passed the checks; `chunks()` streams its body once."""

    url: str
    content_type: str
    length: int | None
    _response: aiohttp.ClientResponse
    _max_bytes: int
    received: int = field(default=0, init=False)

    async def chunks(self, size: int = CHUNK_SIZE) -> AsyncIterator[bytes]:
        """The body in chunks of at most `size` bytes; stops with `ArchiveTooLarge` past
        `max_bytes`."""
        with _mapped_errors(_shown(self.url)):
            async for chunk in self._response.content.iter_chunked(size):
                self.received += len(chunk)
                if self.received > self._max_bytes:
                    raise ArchiveTooLarge(
                        f"{_shown(self.url)}: the video passed [archive].max_bytes"
                        f" ({self._max_bytes} bytes) while downloading"
                    )
                yield chunk
        if self.length is not None and self.received != self.length:
            raise ArchiveRetryable(
                f"{_shown(self.url)}: the connection ended after {self.received} of"
                f" {self.length} bytes; will retry",
                code="download_incomplete",
            )


class Fetcher:
    """The downloader: each `get` opens an aiohttp session whose connections go only to checked
    addresses and closes it when its block ends, so a Fetcher holds nothing open."""

    def __init__(self, policy: FetchPolicy) -> None:
        self.policy = policy
        self._resolver = CheckingResolver(policy)

    def _session(self) -> aiohttp.ClientSession:
        """A session for one download: a pool per download costs nothing next to a video, and
        nothing stays open between downloads, so an unclosed Fetcher leaks no connection."""
        connector = aiohttp.TCPConnector(resolver=self._resolver, use_dns_cache=False)
        return aiohttp.ClientSession(connector=connector, trust_env=False, auto_decompress=False)

    @asynccontextmanager
    async def get(self, url: str) -> AsyncIterator[Download]:
        """The checked answer for `url`, redirects followed; its connection is released on
        leaving the block."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.policy.total_timeout
        try:
            current = URL(url)
        except ValueError:
            raise ArchiveFinal(f"{url!r} is not a URL", code="bad_url") from None
        async with self._session() as session:
            for _ in range(MAX_REDIRECTS + 1):
                self._check_target(current)
                response = await self._request(session, current, deadline - loop.time())
                try:
                    location = _redirect_target(response, current)
                    if location is None:
                        yield self._accept(response, current)
                        return
                finally:
                    response.close()  # never drain a body not wanted: close its connection
                current = location
        raise ArchiveFinal(
            f"{_shown(url)}: more than {MAX_REDIRECTS} redirects; refused",
            code="too_many_redirects",
        )

    def _check_target(self, url: URL) -> None:
        """Refuse a hop before connecting: its scheme, its host, and an IP-literal host."""
        if url.scheme not in ("http", "https") or not url.host:
            raise ArchiveFinal(
                f"{_shown(url)}: only http:// and https:// URLs are downloaded", code="bad_url"
            )
        if not host_allowed(url.host, list(self.policy.allow_hosts)):
            raise ArchiveFinal(
                f"{_shown(url)}: host {url.host} is not in [archive].allow_hosts",
                code="host_refused",
            )
        literal = parse_ip(url.host)
        reason = None if literal is None else _refusal(literal, self.policy)
        if reason is not None:
            raise ArchiveFinal(
                f"refused to download {_shown(url)}: {reason}", code="address_refused"
            )

    async def _request(
        self, session: aiohttp.ClientSession, url: URL, remaining: float
    ) -> aiohttp.ClientResponse:
        """One GET without following redirects, with what is left of the total timeout."""
        if remaining <= 0:
            raise ArchiveRetryable(f"{_shown(url)}: timed out following redirects", code="timeout")
        timeout = aiohttp.ClientTimeout(
            total=remaining,
            sock_connect=self.policy.connect_timeout,
            sock_read=self.policy.read_timeout,
        )
        with _mapped_errors(_shown(url)):
            return await session.get(
                url, allow_redirects=False, timeout=timeout, headers={"Accept": "video/*, */*"}
            )

    def _accept(self, response: aiohttp.ClientResponse, url: URL) -> Download:
        """A `Download` for a final answer whose status, length and type pass."""
        _check_status(response.status, url)
        length = response.content_length
        if length is not None and length > self.policy.max_bytes:
            raise ArchiveTooLarge(
                f"{_shown(url)}: the video is {length} bytes, over [archive].max_bytes"
                f" ({self.policy.max_bytes}); refused without downloading"
            )
        content_type = response.content_type.lower()
        if not _is_video(content_type, url):
            raise ArchiveFinal(
                f"{_shown(url)}: answered {content_type!r}, not a video; refused", code="not_video"
            )
        return Download(str(url), content_type, length, response, self.policy.max_bytes)

    async def close(self) -> None:
        """Nothing left to close: each download closes its own connections. Kept so a Fetcher
        can be used as an async context manager and closed like other clients."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()


@asynccontextmanager
async def fetch(url: str, policy: FetchPolicy) -> AsyncIterator[Download]:
    """Download `url` with a session of its own (see `Fetcher` to share one)."""
    async with Fetcher(policy) as fetcher, fetcher.get(url) as download:
        yield download


def _shown(url: URL | str) -> str:
    """`url` for messages and logs: without its query, which often holds a CDN's signature."""
    try:
        return str(URL(url).with_query(None).with_fragment(None).with_user(None))
    except ValueError:
        return repr(url)


def _refusal(address: IPAddress, policy: FetchPolicy) -> str | None:
    return refusal(address, allow_private=policy.allow_private, trusted=policy.trusted_networks)


def _redirect_target(response: aiohttp.ClientResponse, url: URL) -> URL | None:
    """Where a redirect points, resolved against `url`; None when this is no redirect."""
    if response.status not in _REDIRECTS:
        return None
    location = response.headers.get("Location")
    if not location:
        raise ArchiveFinal(
            f"{_shown(url)}: a {response.status} redirect without Location", code="bad_redirect"
        )
    return url.join(URL(location))


def _check_status(status: int, url: URL) -> None:
    """Raise the failure a non-200 status means."""
    if status == 200:
        return
    if status in _GONE:
        raise ArchiveFinal(
            f"{_shown(url)}: the link expired or is gone (HTTP {status}); the provider no"
            " longer serves this video",
            code="link_gone",
        )
    if status >= 500 or status in (408, 429):
        raise ArchiveRetryable(
            f"{_shown(url)}: the server answered HTTP {status}; will retry", code="http_error"
        )
    raise ArchiveFinal(
        f"{_shown(url)}: the server answered HTTP {status}; refused", code="http_error"
    )


def _is_video(content_type: str, url: URL) -> bool:
    """Whether the answer is a video: `video/*`, or an octet stream named like one."""
    if content_type.startswith("video/"):
        return True
    return content_type in _OCTET_STREAMS and url.path.lower().endswith(VIDEO_EXTENSIONS)


@contextmanager
def _mapped_errors(url: str) -> Iterator[None]:
    """Turn aiohttp's and asyncio's errors into `ArchiveRetryable`."""
    try:
        yield
    except (ArchiveFinal, ArchiveRetryable):
        raise
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        if isinstance(exc, TimeoutError):
            raise ArchiveRetryable(f"{url}: timed out; will retry", code="timeout") from exc
        raise ArchiveRetryable(
            f"{url}: {type(exc).__name__}: {exc}; will retry", code="connection_error"
        ) from exc
