"""The shared `httpx.AsyncClient` that sinks and provider calls use, over aiohttp's client.

httpx stays the API everything calls (and tests keep `httpx.MockTransport`); underneath, the
`httpx-aiohttp` transport hands each request to an `aiohttp.ClientSession`, whose pool and llhttp
parser cost a fraction of httpcore's CPU per delivery and which connects with Happy Eyeballs.

What the client promises:
- nothing non-idempotent is sent twice: aiohttp sends a request once more, when its connection
  closed before any answer, only for GET, HEAD, OPTIONS, TRACE, PUT and DELETE, and httpx adds no
  retries, so a POST (a delivery, a provider's create call) that fails reaches the caller as an
  error and is retried, if at all, by the caller's own durable retry;
- no cookies are kept: one answer's `Set-Cookie` never rides along on later requests;
- HTTP_PROXY, HTTPS_PROXY, ALL_PROXY and NO_PROXY are honoured as httpx honours them;
- certificates are checked as httpx checks them by default;
- httpx's timeouts apply per request (connect, read, and pool: waiting for a free connection);
- at most `max_connections` connections in all and `max_per_origin` to one host and port.
"""

from __future__ import annotations

import ipaddress
import ssl
import urllib.request
from collections.abc import AsyncIterator, Callable
from http.cookiejar import CookieJar, DefaultCookiePolicy

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

__all__ = ["proxy_mounts_from_env", "shared_client"]


def shared_client(
    *,
    verify: ssl.SSLContext | bool = True,
    max_connections: int = 100,
    max_per_origin: int = 50,
    keepalive_expiry: float = 5.0,
    timeout: float = 30.0,
) -> httpx.AsyncClient:
    """The client sinks and provider calls share: aiohttp underneath, environment proxies, no
    redirects followed and no cookies kept."""
    tls = httpx.create_ssl_context(verify=verify)
    sessions = _session_factory(tls, max_connections, max_per_origin, keepalive_expiry)

    def transport(proxy: str | None) -> AiohttpTransport:
        return _Transport(
            verify=tls, proxy=None if proxy is None else httpx.Proxy(proxy), client=sessions
        )

    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout),
        follow_redirects=False,
        transport=transport(None),
        mounts=proxy_mounts_from_env(transport),
        cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
    )


def proxy_mounts_from_env(
    transport: Callable[[str | None], httpx.AsyncBaseTransport],
) -> dict[str, httpx.AsyncBaseTransport | None]:
    """Mounts for the proxies the environment names, to pass as `AsyncClient(mounts=...)`.

    httpx reads HTTP_PROXY and friends only when it builds its own transport, so a client given
    `transport=` needs these to keep honouring them. The patterns are httpx's: `http://`,
    `https://` and `all://` to the proxy, and a NO_PROXY host to None (the client's transport).
    """
    found = urllib.request.getproxies()
    mounts: dict[str, httpx.AsyncBaseTransport | None] = {}
    for scheme in ("http", "https", "all"):
        if url := found.get(scheme):
            mounts[f"{scheme}://"] = transport(url if "://" in url else f"http://{url}")
    if not mounts:
        return {}
    for host in (part.strip() for part in found.get("no", "").split(",")):
        if host == "*":
            return {}
        if host:
            mounts[_no_proxy_pattern(host)] = None
    return mounts


def _no_proxy_pattern(host: str) -> str:
    """httpx's mount pattern for one NO_PROXY entry: an exact address, or a domain and its
    subdomains."""
    if "://" in host:
        return host
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if host.lower() == "localhost":
            return "all://localhost"
        return f"all://*{host}"
    return f"all://[{host}]" if address.version == 6 else f"all://{host}"


def _session_factory(
    tls: ssl.SSLContext, max_connections: int, max_per_origin: int, keepalive_expiry: float
) -> Callable[[], aiohttp.ClientSession]:
    """Builds the aiohttp session on first use, inside the event loop that will run it."""

    def session() -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=max_connections,
            limit_per_host=max_per_origin,
            keepalive_timeout=keepalive_expiry,
            ssl=tls,
        )
        # Proxies come from httpx's mounts and nothing reads ~/.netrc (trust_env stays off).
        return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())

    return session


class _Transport(AiohttpTransport):
    """httpx-aiohttp's transport with aiohttp's failures as the httpx errors they mean.

    httpx-aiohttp 0.2 reports a refused connection or a server that closed without answering as
    a `ConnectTimeout`, and lets a malformed answer escape as aiohttp's own `ClientResponseError`
    (and a header aiohttp refuses to send as a `ValueError`); callers here tell "timed out" from
    "refused" and catch only httpx's errors.
    """

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            response = await super().handle_async_request(request)
        except (httpx.TransportError, aiohttp.ClientError) as exc:
            raise _httpx_error(exc) from None
        except ValueError as exc:  # aiohttp refuses what cannot be sent, e.g. a CR in a header
            raise httpx.LocalProtocolError(str(exc)) from None
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _Body(response.stream)
        return response


class _Body(httpx.AsyncByteStream):
    """An answer's body whose read failures are httpx's errors, as in `_Transport`."""

    def __init__(self, stream: httpx.AsyncByteStream) -> None:
        self._stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._stream:
                yield chunk
        except (httpx.TransportError, aiohttp.ClientError) as exc:
            raise _httpx_error(exc) from None

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        except (httpx.TransportError, aiohttp.ClientError) as exc:
            raise _httpx_error(exc) from None


def _httpx_error(exc: httpx.TransportError | aiohttp.ClientError) -> httpx.TransportError:
    """The httpx error for an aiohttp failure, raised directly or wrapped by httpx-aiohttp."""
    cause = exc if isinstance(exc, aiohttp.ClientError) else exc.__cause__
    if not isinstance(cause, aiohttp.ClientError):
        assert isinstance(exc, httpx.TransportError)
        return exc
    message = str(cause) or type(cause).__name__
    for aiohttp_type, httpx_type in _ERRORS:
        if isinstance(cause, aiohttp_type):
            return httpx_type(message)
    return httpx.NetworkError(message)


# First match wins: subclasses before their bases.
_ERRORS: tuple[tuple[type[aiohttp.ClientError], type[httpx.TransportError]], ...] = (
    (aiohttp.ConnectionTimeoutError, httpx.ConnectTimeout),  # connecting, or waiting for a slot
    (aiohttp.ServerTimeoutError, httpx.ReadTimeout),
    (aiohttp.ClientProxyConnectionError, httpx.ProxyError),
    (aiohttp.ClientHttpProxyError, httpx.ProxyError),
    (aiohttp.ClientConnectorError, httpx.ConnectError),  # refused, unknown host, certificate
    (aiohttp.ServerDisconnectedError, httpx.RemoteProtocolError),
    (aiohttp.ClientPayloadError, httpx.RemoteProtocolError),  # a body cut short or malformed
    (aiohttp.ClientResponseError, httpx.RemoteProtocolError),  # a malformed answer head
    (aiohttp.InvalidURL, httpx.UnsupportedProtocol),
    (aiohttp.NonHttpUrlClientError, httpx.UnsupportedProtocol),
    (aiohttp.ClientOSError, httpx.ReadError),
)
