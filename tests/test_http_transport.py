"""Http11Transport against real loopback servers that write crafted answers byte for byte."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.sink_servers import HttpServer, Reply, free_port, self_signed_tls
from vidhook.receiver import http_transport
from vidhook.receiver.app import build_services
from vidhook.receiver.config import parse_settings
from vidhook.receiver.http_transport import Http11Transport, proxy_mounts_from_env
from vidhook.routes.sinks.base import SinkError
from vidhook.routes.sinks.http import post

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

Reader = asyncio.StreamReader
Writer = asyncio.StreamWriter


class RawServer:
    """A loopback server that runs `handler` on each accepted connection, counts the
    connections and records each request head it reads with `read_request`."""

    def __init__(
        self,
        handler: Callable[[RawServer, Reader, Writer], Awaitable[None]],
        tls: ssl.SSLContext | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self.handler = handler
        self.tls = tls
        self.host = host
        self.connections = 0
        self.requests: list[bytes] = []
        self.bodies: list[bytes] = []
        self.closed_by_client = asyncio.Event()  # a client closed a connection first
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"{'https' if self.tls else 'http'}://{self.host}:{port}"

    async def __aenter__(self) -> RawServer:
        self._server = await asyncio.start_server(self._serve, self.host, 0, ssl=self.tls)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def read_request(self, reader: Reader) -> bool:
        """Read one request; False if the client closed the connection instead."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            if not exc.partial:
                self.closed_by_client.set()
            return False
        self.requests.append(head)
        length = 0
        for line in head.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        self.bodies.append(await reader.readexactly(length))
        return True

    async def _serve(self, reader: Reader, writer: Writer) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        try:
            await self.handler(self, reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        except asyncio.CancelledError:  # stopped by __aexit__: end quietly
            pass
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError, ssl.SSLError):
                await writer.wait_closed()


def answering(*answers: bytes) -> Callable[[RawServer, Reader, Writer], Awaitable[None]]:
    """A handler that answers each request on a connection with the next of `answers` (the
    last one repeats), then waits for the next request; an answer of b"" closes instead."""

    async def handler(server: RawServer, reader: Reader, writer: Writer) -> None:
        index = 0
        while await server.read_request(reader):
            answer = answers[min(index, len(answers) - 1)]
            index += 1
            if not answer:
                return
            writer.write(answer)
            await writer.drain()

    return handler


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=Http11Transport(), timeout=10) as http:
        yield http


async def test_request_goes_out_as_http11_with_host_headers_and_length(
    client: httpx.AsyncClient,
) -> None:
    async with RawServer(answering(OK)) as server:
        url = server.url
        response = await client.post(
            url + "/hook/a%20b?x=1&y=2", content=b'{"a":1}', headers={"X-Token": "t"}
        )
    assert (response.status_code, response.text, response.http_version) == (200, "ok", "HTTP/1.1")
    assert response.reason_phrase == "OK"
    request_line, *lines = server.requests[0].decode().split("\r\n")
    assert request_line == "POST /hook/a%20b?x=1&y=2 HTTP/1.1"
    headers = {k.lower(): v for k, v in (line.split(": ", 1) for line in lines if line)}
    assert headers["host"] == url.removeprefix("http://")
    assert headers["content-length"] == "7"
    assert headers["x-token"] == "t"
    assert server.bodies == [b'{"a":1}']


async def test_a_streamed_request_body_is_sent_whole_with_content_length(
    client: httpx.AsyncClient,
) -> None:
    async def parts() -> AsyncIterator[bytes]:
        yield b"hello "
        yield b"world"

    async with RawServer(answering(OK)) as server:
        await client.post(server.url, content=parts())
    assert b"content-length: 11\r\n" in server.requests[0].lower()
    assert b"transfer-encoding" not in server.requests[0].lower()
    assert server.bodies == [b"hello world"]


async def test_keep_alive_reuses_one_connection(client: httpx.AsyncClient) -> None:
    async with RawServer(answering(OK)) as server:
        for _ in range(3):
            assert (await client.post(server.url, content=b"x")).text == "ok"
    assert server.connections == 1


async def test_chunked_body_with_extensions_and_trailers_is_read_and_the_connection_kept(
    client: httpx.AsyncClient,
) -> None:
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;name=value\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nExpires: never\r\nX-Sum: 1\r\n\r\n"
    )
    async with RawServer(answering(chunked, OK)) as server:
        first = await client.get(server.url)
        second = await client.get(server.url)
    assert (first.text, second.text) == ("hello world", "ok")
    assert server.connections == 1


async def test_body_until_close_is_read_and_the_connection_not_reused(
    client: httpx.AsyncClient,
) -> None:
    async def until_close(server: RawServer, reader: Reader, writer: Writer) -> None:
        await server.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\n\r\nall of it")

    async with RawServer(until_close) as server:
        assert (await client.get(server.url)).text == "all of it"
        assert (await client.get(server.url)).text == "all of it"
    assert server.connections == 2


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
        b"HTTP/1.1 200 OK\r\nConnection: Keep-Alive, Close\r\nContent-Length: 2\r\n\r\nok",
        b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
    ],
    ids=["close", "close-in-a-list", "http10"],
)
async def test_an_answer_that_asks_to_close_is_not_reused(
    client: httpx.AsyncClient, answer: bytes
) -> None:
    async with RawServer(answering(answer)) as server:
        assert (await client.get(server.url)).text == "ok"
        assert (await client.get(server.url)).text == "ok"
    assert server.connections == 2


async def test_http10_with_keep_alive_is_reused(client: httpx.AsyncClient) -> None:
    answer = b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok"
    async with RawServer(answering(answer)) as server:
        for _ in range(2):
            response = await client.get(server.url)
            assert (response.text, response.http_version) == ("ok", "HTTP/1.0")
    assert server.connections == 1


async def test_no_body_after_204_304_or_head_even_with_a_length(
    client: httpx.AsyncClient,
) -> None:
    answers = (
        b"HTTP/1.1 204 No Content\r\n\r\n",
        b"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n",
        OK,
    )
    async with RawServer(answering(*answers)) as server:
        assert (await client.post(server.url, content=b"x")).status_code == 204
        assert (await client.get(server.url)).content == b""
        head = await client.head(server.url)
        assert (head.content, head.headers["content-length"]) == (b"", "10")
        assert (await client.get(server.url)).text == "ok"
    assert server.connections == 1


async def test_interim_answers_are_skipped(client: httpx.AsyncClient) -> None:
    answer = (
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n" + OK
    )
    async with RawServer(answering(answer)) as server:
        response = await client.post(server.url, content=b"x")
        assert (response.status_code, response.text) == (200, "ok")
        assert "link" not in response.headers
        assert (await client.get(server.url)).status_code == 200
    assert server.connections == 1


async def test_a_response_closed_before_its_end_closes_the_connection(
    client: httpx.AsyncClient,
) -> None:
    body = b"x" * 300_000
    big = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)

    async def big_for_post(server: RawServer, reader: Reader, writer: Writer) -> None:
        while await server.read_request(reader):
            writer.write(big if server.requests[-1].startswith(b"POST") else OK)

    async with RawServer(big_for_post) as server:
        async with client.stream("POST", server.url, content=b"x") as response:
            async for chunk in response.aiter_bytes():
                assert chunk
                break
        assert (await client.get(server.url)).text == "ok"
    assert server.connections == 2


async def test_the_sink_excerpt_of_a_short_answer_keeps_the_connection(
    client: httpx.AsyncClient,
) -> None:
    async with RawServer(answering(OK)) as server:
        for _ in range(3):
            answer = await post(client, server.url, b"{}", {}, timeout=5)
            assert (answer.status_code, answer.excerpt) == (200, "ok")
    assert server.connections == 1


async def test_an_idle_connection_the_server_closed_is_replaced(
    client: httpx.AsyncClient,
) -> None:
    async def one_answer_then_close(server: RawServer, reader: Reader, writer: Writer) -> None:
        await server.read_request(reader)
        writer.write(OK)  # no Connection: close, then the server closes anyway

    async with RawServer(one_answer_then_close) as server:
        assert (await client.get(server.url)).text == "ok"
        await asyncio.sleep(0.05)  # either way (noticed or not), the next request must succeed
        assert (await client.get(server.url)).text == "ok"
    assert server.connections == 2


async def test_a_reused_connection_closed_without_answer_is_retried_once_on_a_new_one(
    client: httpx.AsyncClient,
) -> None:
    # The server reads the second request and closes without a byte: the keep-alive race.
    async with RawServer(answering(OK, b"")) as server:
        assert (await client.post(server.url, content=b"1")).text == "ok"
        assert (await client.post(server.url, content=b"2")).text == "ok"
    assert server.connections == 2
    assert server.bodies == [b"1", b"2", b"2"]


async def test_a_new_connection_closed_without_answer_is_an_error_not_a_retry(
    client: httpx.AsyncClient,
) -> None:
    async with RawServer(answering(b"")) as server:
        with pytest.raises(httpx.RemoteProtocolError, match="without answering"):
            await client.get(server.url)
    assert server.connections == 1


async def test_a_reused_connection_closed_inside_an_answer_is_not_retried(
    client: httpx.AsyncClient,
) -> None:
    async def half_answer(server: RawServer, reader: Reader, writer: Writer) -> None:
        await server.read_request(reader)
        writer.write(OK)
        await server.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Le")

    async with RawServer(half_answer) as server:
        await client.get(server.url)
        with pytest.raises(httpx.RemoteProtocolError, match="inside a head"):
            await client.get(server.url)
    assert server.connections == 1


async def test_connect_refused_is_a_connect_error(client: httpx.AsyncClient) -> None:
    port = free_port()
    with pytest.raises(httpx.ConnectError, match=f"127.0.0.1:{port}"):
        await client.get(f"http://127.0.0.1:{port}/")


async def test_a_server_that_never_answers_is_a_read_timeout() -> None:
    async def silent(server: RawServer, reader: Reader, writer: Writer) -> None:
        await server.read_request(reader)
        await reader.read()

    async with (
        RawServer(silent) as server,
        httpx.AsyncClient(transport=Http11Transport(), timeout=0.2) as client,
    ):
        with pytest.raises(httpx.ReadTimeout, match=r"nothing arrived for 0\.2s"):
            await client.get(server.url)


async def test_a_body_that_stalls_is_a_read_timeout() -> None:
    async def stall(server: RawServer, reader: Reader, writer: Writer) -> None:
        await server.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
        await reader.read()

    async with (
        RawServer(stall) as server,
        httpx.AsyncClient(transport=Http11Transport(), timeout=0.2) as client,
    ):
        with pytest.raises(httpx.ReadTimeout):
            await client.get(server.url)


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n", "over 65536 bytes"),
        (b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * 20_000, "over 65536 bytes"),
        (b"HTTP/2 200\r\n\r\n", "malformed status line"),
        (b"ICY 200 OK\r\n\r\n", "malformed status line"),
        (b"HTTP/1.1 2000 OK\r\n\r\n", "malformed status line"),
        (b"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n", "malformed header line"),
        (b"HTTP/1.1 200 OK\r\n folded: x\r\n\r\n", "malformed header line"),
        (b"HTTP/1.1 200 OK\r\nX: a\nb\r\n\r\n", "malformed header line"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "invalid Content-Length"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\nx", "invalid Content-Length"),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n",
            "both Transfer-Encoding and Content-Length",
        ),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", "unsupported Transfer-Encoding"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "chunk size"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokay\r\n", "past its"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", "5 bytes short"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", "inside a chunk"),
        (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", "switched protocols"),
        (b"HTTP/1.1 100 Continue\r\n\r\n" * 20, "interim"),
    ],
    ids=[
        "long-header",
        "many-headers",
        "http2",
        "not-http",
        "status-digits",
        "space-in-name",
        "obs-fold",
        "bare-lf",
        "negative-length",
        "two-lengths",
        "te-and-length",
        "te-not-chunked",
        "chunk-size",
        "chunk-overrun",
        "short-body",
        "short-chunk",
        "101",
        "endless-1xx",
    ],
)
async def test_malformed_answers_are_remote_protocol_errors(
    client: httpx.AsyncClient, answer: bytes, message: str
) -> None:
    async def then_close(server: RawServer, reader: Reader, writer: Writer) -> None:
        await server.read_request(reader)
        writer.write(answer)
        await writer.drain()

    async with RawServer(then_close) as server:
        with pytest.raises(httpx.RemoteProtocolError, match=message):
            await client.get(server.url)


async def test_a_header_that_would_split_the_request_is_refused(
    client: httpx.AsyncClient,
) -> None:
    async with RawServer(answering(OK)) as server:
        with pytest.raises(httpx.LocalProtocolError, match="x-evil"):
            await client.get(server.url, headers={"x-evil": "a\r\nInjected: 1"})
    assert server.connections == 0


async def test_https_with_a_trusted_certificate_works_and_reuses(tmp_path: Path) -> None:
    server_tls, cert = self_signed_tls(tmp_path)
    trusting = ssl.create_default_context(cafile=str(cert))
    async with (
        RawServer(answering(OK), tls=server_tls) as server,
        httpx.AsyncClient(transport=Http11Transport(verify=trusting)) as client,
    ):
        for _ in range(2):
            assert (await client.post(server.url, content=b"x")).text == "ok"
    assert server.connections == 1


async def test_https_checks_the_hostname_against_the_certificate(tmp_path: Path) -> None:
    server_tls, cert = self_signed_tls(tmp_path)  # names 127.0.0.1 and localhost only
    trusting = ssl.create_default_context(cafile=str(cert))
    async with (
        RawServer(answering(OK), tls=server_tls, host="127.0.0.2") as server,
        httpx.AsyncClient(transport=Http11Transport(verify=trusting)) as client,
    ):
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            await client.get(server.url)


async def test_https_with_an_untrusted_certificate_is_a_connect_error(
    tmp_path: Path, client: httpx.AsyncClient
) -> None:
    server_tls, _ = self_signed_tls(tmp_path)
    async with RawServer(answering(OK), tls=server_tls) as server:
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            await client.get(server.url)
    async with (
        RawServer(answering(OK), tls=server_tls) as server,
        httpx.AsyncClient(transport=Http11Transport(verify=False)) as unchecked,
    ):
        assert (await unchecked.get(server.url)).text == "ok"


async def test_idle_connections_expire() -> None:
    async with (
        RawServer(answering(OK)) as server,
        httpx.AsyncClient(transport=Http11Transport(keepalive_expiry=0.05)) as client,
    ):
        await client.get(server.url)
        await asyncio.wait_for(server.closed_by_client.wait(), timeout=10)
        await client.get(server.url)
    assert server.connections == 2


async def test_idle_connections_per_origin_are_capped() -> None:
    async with (
        RawServer(answering(OK)) as server,
        httpx.AsyncClient(transport=Http11Transport(max_idle_per_origin=1)) as client,
    ):
        await asyncio.gather(*(client.get(server.url) for _ in range(3)))
        await asyncio.wait_for(server.closed_by_client.wait(), timeout=10)
        assert server.connections == 3
        await client.get(server.url)
        assert server.connections == 3


async def test_aclose_closes_idle_connections() -> None:
    async with RawServer(answering(OK)) as server:
        client = httpx.AsyncClient(transport=Http11Transport())
        await client.get(server.url)
        await client.aclose()
        await asyncio.wait_for(server.closed_by_client.wait(), timeout=10)


async def test_waiting_for_a_free_connection_slot_is_a_pool_timeout() -> None:
    async with (
        RawServer(answering(OK)) as server,
        httpx.AsyncClient(transport=Http11Transport(max_connections=1), timeout=0.2) as client,
    ):
        async with client.stream("GET", server.url):
            with pytest.raises(httpx.PoolTimeout, match="1 connections stayed busy"):
                await client.get(server.url)
        assert (await client.get(server.url)).text == "ok"


async def test_gzip_answers_are_decoded_by_httpx(client: httpx.AsyncClient) -> None:
    body = gzip.compress(b"unzipped")
    answer = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%s" % (
        len(body),
        body,
    )
    async with RawServer(answering(answer)) as server:
        assert (await client.get(server.url)).text == "unzipped"


async def test_sink_post_turns_a_refused_connection_into_a_readable_retryable_error(
    client: httpx.AsyncClient,
) -> None:
    port = free_port()
    with pytest.raises(SinkError) as caught:
        await post(client, f"http://127.0.0.1:{port}/hook", b"{}", {}, timeout=5)
    assert caught.value.retryable
    assert str(caught.value).startswith(f"ConnectError: cannot connect to 127.0.0.1:{port}: ")


async def test_the_app_client_uses_this_transport_and_environment_proxies(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def proxy(server: RawServer, reader: Reader, writer: Writer) -> None:
        while await server.read_request(reader):
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nproxied")

    for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    async with RawServer(proxy) as fake_proxy, RawServer(answering(OK)) as direct:
        monkeypatch.setenv("HTTP_PROXY", fake_proxy.url)
        monkeypatch.setenv("NO_PROXY", "localhost")
        services = build_services(parse_settings("", env={}))
        try:
            response = await services.http.post("http://sink.invalid/hook", content=b"{}")
            assert response.text == "proxied"
            assert fake_proxy.requests[0].startswith(b"POST http://sink.invalid/hook HTTP/1.1")
            local = direct.url.replace("127.0.0.1", "localhost")
            assert (await services.http.get(local)).text == "ok"
            assert direct.connections == 1
        finally:
            await services.http.aclose()


def test_without_proxy_variables_there_are_no_mounts(monkeypatch: pytest.MonkeyPatch) -> None:
    for scheme in ("http", "https", "all", "no"):
        monkeypatch.delenv(f"{scheme}_proxy", raising=False)
        monkeypatch.delenv(f"{scheme.upper()}_PROXY", raising=False)
    assert proxy_mounts_from_env() == {}


async def test_the_shared_client_keeps_no_cookies_between_requests() -> None:
    set_cookie = Reply(headers={"Set-Cookie": "session=abc; Path=/"})
    async with HttpServer(set_cookie, set_cookie) as server:
        client = http_transport.shared_client()
        try:
            for _ in range(2):
                (await client.post(server.url, content=b"{}")).raise_for_status()
        finally:
            await client.aclose()
    assert [r.headers.get("cookie") for r in server.received] == [None, None]
    assert not client.cookies
