"""`Http11Transport`: HTTP/1.1 straight over asyncio for the shared `httpx.AsyncClient`.

httpx stays the API everything uses; this replaces only what sits under it (httpcore, h11 and
anyio), which cost several times the CPU of the client layer itself on every delivery.

Connections are pooled per (scheme, host, port). One is reused only when its answer was read to
the end and the server did not ask to close; idle ones are capped per origin and closed after
`keepalive_expiry` seconds. A request that finds its reused connection closed by the server
before any byte of the answer is sent once more on a new connection.

Failures are httpx's exceptions, so callers handle them as they would httpx's own:

    TransportError
     ├── TimeoutException
     │    ├── ConnectTimeout      the connection or TLS handshake took too long
     │    ├── PoolTimeout         every connection slot stayed busy
     │    ├── WriteTimeout        the request could not be written in time
     │    └── ReadTimeout         nothing of the answer arrived in time
     ├── NetworkError
     │    ├── ConnectError        refused, unreachable, unknown host, certificate refused
     │    ├── WriteError          the connection broke while writing
     │    └── ReadError           the connection broke while reading
     ├── RemoteProtocolError      the answer is malformed, too large or stops short
     ├── LocalProtocolError       a request line or header that cannot be sent
     └── UnsupportedProtocol      not an http:// or https:// URL
"""

from __future__ import annotations

import asyncio
import ssl
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any

import httpx

# httpx's own reading of HTTP_PROXY, HTTPS_PROXY, ALL_PROXY and NO_PROXY, so proxies behave
# exactly as they did with httpx's default transport.
from httpx._utils import get_environment_proxies

from vidhook.receiver.http11 import Head, encode_request
from vidhook.receiver.http_connection import Connection, Origin, ResponseBody, describe

__all__ = ["Http11Transport", "proxy_mounts_from_env", "shared_client"]

Timeouts = dict[str, float | None]  # httpx's per-request "timeout" extension


def shared_client() -> httpx.AsyncClient:
    """The client sinks and provider calls share: this transport, environment proxies, no
    redirects followed, and no cookies kept, so one answer's `Set-Cookie` never rides along on
    later deliveries or provider calls."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(30.0),
        follow_redirects=False,
        transport=Http11Transport(),
        mounts=proxy_mounts_from_env(),
        cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
    )


def proxy_mounts_from_env() -> dict[str, httpx.AsyncBaseTransport | None]:
    """Mounts for the proxies the environment names, to pass as `AsyncClient(mounts=...)`.

    httpx reads HTTP_PROXY and friends only when it builds its own transport, so a client given
    `transport=` needs these to keep honouring them. Proxied URLs go through httpx's own transport
    (with the proxy); NO_PROXY hosts map to None, which means the client's `transport`.
    """
    return {
        pattern: None if url is None else httpx.AsyncHTTPTransport(proxy=url)
        for pattern, url in get_environment_proxies().items()
    }


class Http11Transport(httpx.AsyncBaseTransport):
    """An httpx transport speaking HTTP/1.1 over asyncio, with keep-alive connection pooling.

    `verify` is an `ssl.SSLContext`, or True (httpx's default certificate checks) or False (none).
    At most `max_connections` requests are in flight at once; the next waits for a slot up to the
    request's pool timeout.
    """

    def __init__(
        self,
        *,
        verify: ssl.SSLContext | bool = True,
        max_connections: int = 100,
        max_idle_per_origin: int = 20,
        keepalive_expiry: float = 5.0,
    ) -> None:
        self._verify = verify
        self._ssl_context = verify if isinstance(verify, ssl.SSLContext) else None
        self._max_connections = max_connections
        self._slots = asyncio.Semaphore(max_connections)
        self._max_idle = max_idle_per_origin
        self._keepalive_expiry = keepalive_expiry
        self._idle: dict[Origin, list[Connection]] = {}
        self._closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send one request and return its answer with the body still to be read."""
        timeouts: Timeouts = request.extensions.get("timeout", {})
        origin = _origin(request.url)
        data = encode_request(request, await request.aread())
        await self._take_slot(timeouts)
        try:
            connection, head = await self._exchange(origin, data, request.method, timeouts)
        except BaseException:
            self._slots.release()
            raise
        extensions: dict[str, Any] = {"http_version": head.version, "reason_phrase": head.reason}
        body = ResponseBody(connection, head, self.release)
        return httpx.Response(head.status, headers=head.headers, stream=body, extensions=extensions)

    async def aclose(self) -> None:
        """Close every idle connection; ones still in use close when their answer is closed."""
        self._closed = True
        for idle in self._idle.values():
            for connection in idle:
                connection.close()
        self._idle.clear()

    def release(self, connection: Connection, reusable: bool) -> None:
        """Take back a connection whose answer is closed: keep it idle, or close it."""
        self._slots.release()
        idle = self._idle.setdefault(connection.origin, [])
        full = len(idle) >= self._max_idle
        if not reusable or full or self._closed or not connection.idle_and_open():
            connection.close()
            return
        idle.append(connection)
        loop = asyncio.get_running_loop()
        connection.expiry = loop.call_later(self._keepalive_expiry, self._expire, connection)

    async def _exchange(
        self, origin: Origin, data: bytes, method: str, timeouts: Timeouts
    ) -> tuple[Connection, Head]:
        connection = self._reuse(origin)
        if connection is not None:
            try:
                return connection, await _request(connection, data, method, timeouts)
            except (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError):
                connection.close()
                if connection.answered:
                    raise
                # The server closed the idle connection as the request went out; nothing of it
                # was answered, so it goes once more on a new connection.
            except BaseException:
                connection.close()
                raise
        connection = await self._connect(origin, timeouts)
        try:
            return connection, await _request(connection, data, method, timeouts)
        except BaseException:
            connection.close()
            raise

    def _reuse(self, origin: Origin) -> Connection | None:
        idle = self._idle.get(origin)
        while idle:
            connection = idle.pop()
            if connection.expiry is not None:
                connection.expiry.cancel()
                connection.expiry = None
            if connection.idle_and_open():
                return connection
            connection.close()
        return None

    def _expire(self, connection: Connection) -> None:
        connection.expiry = None
        idle = self._idle.get(connection.origin, [])
        if connection in idle:
            idle.remove(connection)
        connection.close()

    async def _connect(self, origin: Origin, timeouts: Timeouts) -> Connection:
        scheme, host, port = origin
        seconds = timeouts.get("connect")
        tls = self._tls() if scheme == "https" else None
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(seconds):
                _, connection = await loop.create_connection(
                    lambda: Connection(origin),
                    host,
                    port,
                    ssl=tls,
                    server_hostname=host if tls else None,
                )
        except TimeoutError:  # ours, or the system's own when there is no connect timeout
            took = f"took over {seconds:g}s" if seconds is not None else "timed out"
            raise httpx.ConnectTimeout(f"connecting to {host}:{port} {took}") from None
        except OSError as exc:
            raise httpx.ConnectError(f"cannot connect to {host}:{port}: {describe(exc)}") from None
        return connection

    async def _take_slot(self, timeouts: Timeouts) -> None:
        if not self._slots.locked():
            await self._slots.acquire()
            return
        seconds = timeouts.get("pool")
        try:
            async with asyncio.timeout(seconds):
                await self._slots.acquire()
        except TimeoutError:
            message = f"all {self._max_connections} connections stayed busy for {seconds:g}s"
            raise httpx.PoolTimeout(message) from None

    def _tls(self) -> ssl.SSLContext:
        if self._ssl_context is None:  # built on first use: loading the CA bundle takes a while
            assert not isinstance(self._verify, ssl.SSLContext)
            self._ssl_context = httpx.create_ssl_context(verify=self._verify)
            self._ssl_context.set_alpn_protocols(["http/1.1"])
        return self._ssl_context


async def _request(connection: Connection, data: bytes, method: str, timeouts: Timeouts) -> Head:
    connection.read_timeout = timeouts.get("read")
    connection.write_timeout = timeouts.get("write")
    await connection.send(data)
    return await connection.read_head(method)


def _origin(url: httpx.URL) -> Origin:
    if url.scheme not in ("http", "https"):
        raise httpx.UnsupportedProtocol(f"cannot send to {url.scheme or 'a relative'} URL {url}")
    if not url.raw_host:
        raise httpx.UnsupportedProtocol(f"URL has no host: {url}")
    port = url.port or (443 if url.scheme == "https" else 80)
    return url.scheme, url.raw_host.decode("ascii"), port
