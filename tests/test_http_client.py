"""The shared HTTP client (httpx over aiohttp) against real loopback servers that write crafted
answers byte for byte: keep-alive, framing, timeouts, TLS, proxies, pool limits, and that no
request that may have reached a server is sent again by the client."""

from __future__ import annotations

import asyncio
import gzip
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.drive import SOURCE_CONFIG, eventually, http_sink, post_callbacks, rule
from tests.raw_server import OK, RawServer, Reader, Writer, answering
from tests.sink_servers import HttpServer, Reply, free_port, self_signed_tls
from vidhook.receiver.app import build_services
from vidhook.receiver.config import parse_settings
from vidhook.receiver.http_client import proxy_mounts_from_env, shared_client
from vidhook.routes.sinks.base import SinkError
from vidhook.routes.sinks.http import post


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with shared_client(timeout=10) as http:
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
        b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
    ],
    ids=["close", "http10"],
)
async def test_an_answer_that_asks_to_close_is_not_reused(
    client: httpx.AsyncClient, answer: bytes
) -> None:
    async with RawServer(answering(answer)) as server:
        assert (await client.get(server.url)).text == "ok"
        assert (await client.get(server.url)).text == "ok"
    assert server.connections == 2


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
    answer = b"HTTP/1.1 100 Continue\r\n\r\n" + OK
    async with RawServer(answering(answer)) as server:
        response = await client.post(server.url, content=b"x")
        assert (response.status_code, response.text) == (200, "ok")


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


async def test_a_post_on_a_reused_connection_closed_without_answer_is_not_sent_again(
    client: httpx.AsyncClient,
) -> None:
    # The server reads the second request and closes without a byte: the keep-alive race. The
    # POST may have been acted on, so it surfaces as an error instead of going out again.
    async with RawServer(answering(OK, b"")) as server:
        assert (await client.post(server.url, content=b"1")).text == "ok"
        with pytest.raises(httpx.RemoteProtocolError):
            await client.post(server.url, content=b"2")
    assert (server.connections, server.bodies) == (1, [b"1", b"2"])


async def test_a_get_on_a_reused_connection_closed_without_answer_goes_once_more(
    client: httpx.AsyncClient,
) -> None:
    async with RawServer(answering(OK, b"")) as server:
        assert (await client.get(server.url + "/1")).text == "ok"
        assert (await client.get(server.url + "/2")).text == "ok"
    paths = [request.split(b" ")[1] for request in server.requests]
    assert (server.connections, paths) == (2, [b"/1", b"/2", b"/2"])


async def test_a_post_on_a_new_connection_closed_without_answer_is_an_error_not_a_retry(
    client: httpx.AsyncClient,
) -> None:
    async with RawServer(answering(b"")) as server:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.post(server.url, content=b"x")
    assert (server.connections, server.bodies) == (1, [b"x"])


async def test_a_connection_closed_inside_an_answer_is_a_protocol_error(
    client: httpx.AsyncClient,
) -> None:
    async def half_answer(server: RawServer, reader: Reader, writer: Writer) -> None:
        await server.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Le")

    async with RawServer(half_answer) as server:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.post(server.url, content=b"x")
    assert server.connections == 1


async def test_connect_refused_is_a_connect_error(client: httpx.AsyncClient) -> None:
    port = free_port()
    with pytest.raises(httpx.ConnectError, match=f"127.0.0.1:{port}"):
        await client.get(f"http://127.0.0.1:{port}/")


async def test_a_server_that_never_answers_is_a_read_timeout() -> None:
    async def silent(server: RawServer, reader: Reader, writer: Writer) -> None:
        await server.read_request(reader)
        await reader.read()

    async with RawServer(silent) as server, shared_client(timeout=0.2) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.get(server.url)


async def test_a_body_that_stalls_is_a_read_timeout() -> None:
    async def stall(server: RawServer, reader: Reader, writer: Writer) -> None:
        await server.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
        await reader.read()

    async with RawServer(stall) as server, shared_client(timeout=0.2) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.get(server.url)


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * 20_000,
        b"HTTP/2 200\r\n\r\n",
        b"ICY 200 OK\r\n\r\n",
        b"HTTP/1.1 2000 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\nx",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
    ],
    ids=[
        "long-header",
        "many-headers",
        "http2",
        "not-http",
        "status-digits",
        "space-in-name",
        "negative-length",
        "two-lengths",
        "te-and-length",
        "chunk-size",
        "short-body",
        "short-chunk",
    ],
)
async def test_malformed_or_oversized_answers_are_remote_protocol_errors(
    client: httpx.AsyncClient, answer: bytes
) -> None:
    async def then_close(server: RawServer, reader: Reader, writer: Writer) -> None:
        await server.read_request(reader)
        writer.write(answer)
        await writer.drain()

    async with RawServer(then_close) as server:
        with pytest.raises(httpx.RemoteProtocolError):
            await (await client.get(server.url)).aread()


async def test_a_header_that_would_split_the_request_is_refused(
    client: httpx.AsyncClient,
) -> None:
    async with RawServer(answering(OK)) as server:
        with pytest.raises(httpx.LocalProtocolError, match="header injection"):
            await client.get(server.url, headers={"x-evil": "a\r\nInjected: 1"})
    assert server.requests == []


async def test_https_with_a_trusted_certificate_works_and_reuses(tmp_path: Path) -> None:
    server_tls, cert = self_signed_tls(tmp_path)
    trusting = ssl.create_default_context(cafile=str(cert))
    async with (
        RawServer(answering(OK), tls=server_tls) as server,
        shared_client(verify=trusting) as client,
    ):
        for _ in range(2):
            assert (await client.post(server.url, content=b"x")).text == "ok"
    assert server.connections == 1


async def test_https_checks_the_hostname_against_the_certificate(tmp_path: Path) -> None:
    server_tls, cert = self_signed_tls(tmp_path)  # names 127.0.0.1 and localhost only
    trusting = ssl.create_default_context(cafile=str(cert))
    async with (
        RawServer(answering(OK), tls=server_tls, host="127.0.0.2") as server,
        shared_client(verify=trusting) as client,
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
        shared_client(verify=False) as unchecked,
    ):
        assert (await unchecked.get(server.url)).text == "ok"


async def test_idle_connections_expire() -> None:
    async with (
        RawServer(answering(OK)) as server,
        shared_client(keepalive_expiry=0.05) as client,
    ):
        await client.get(server.url)
        await asyncio.wait_for(server.closed_by_client.wait(), timeout=10)
        await client.get(server.url)
    assert server.connections == 2


async def test_connections_to_one_origin_are_capped() -> None:
    async def slow(server: RawServer, reader: Reader, writer: Writer) -> None:
        while await server.read_request(reader):
            await asyncio.sleep(0.05)  # so the requests overlap: the cap, not luck, decides
            writer.write(OK)

    async with (
        RawServer(slow) as capped,
        RawServer(answering(OK)) as other,
        shared_client(max_per_origin=1) as client,
    ):
        answers = await asyncio.gather(
            *(client.get(capped.url) for _ in range(3)), client.get(other.url)
        )
    assert [answer.text for answer in answers] == ["ok"] * 4
    assert (capped.connections, len(capped.requests), other.connections) == (1, 3, 1)


async def test_aclose_closes_idle_connections() -> None:
    async with RawServer(answering(OK)) as server:
        client = shared_client()
        await client.get(server.url)
        await client.aclose()
        await asyncio.wait_for(server.closed_by_client.wait(), timeout=10)


async def test_waiting_for_a_free_connection_is_bounded_by_the_pool_timeout() -> None:
    async def first_answer_unfinished(server: RawServer, reader: Reader, writer: Writer) -> None:
        unfinished = server.connections == 1
        while await server.read_request(reader):
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc" if unfinished else OK)

    async with (
        RawServer(first_answer_unfinished) as server,
        shared_client(max_connections=1, timeout=0.2) as client,
    ):
        async with client.stream("GET", server.url):
            with pytest.raises(httpx.TimeoutException):
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
    assert str(caught.value).startswith("ConnectError: Cannot connect to host 127.0.0.1:")


async def test_a_sink_post_cut_off_on_a_reused_connection_is_a_failed_attempt_retried_durably(
    vidhook_factory: Any,
) -> None:
    # First connection: the first delivery is answered, the second read and dropped unanswered.
    # It is not sent again at once: the worker records a failed attempt and its retry schedule
    # sends it again, under the same webhook-id, on a new connection.
    async with RawServer(answering(OK, b"")) as server:
        sink = http_sink("app", server.url + "/hook", (0.05,))
        vidhook = await vidhook_factory(SOURCE_CONFIG + sink + rule("all", "app"))
        store = vidhook.services.store
        first, second = await post_callbacks(vidhook.client, 2)

        async def delivered() -> bool:
            rows = [*await store.deliveries_of(first), *await store.deliveries_of(second)]
            return len(rows) == 2 and all(row.state == "delivered" for row in rows)

        await eventually(delivered)
    tried = await store.attempts_of(second)
    assert [(a.number, a.outcome) for a in tried] == [(1, "retry"), (2, "delivered")]
    assert tried[0].error is not None and "RemoteProtocolError" in tried[0].error
    ids = [_header(request, b"webhook-id") for request in server.requests]
    assert len(ids) == 3 and ids[1] == ids[2] != ids[0]
    assert server.connections == 2


def _header(request: bytes, name: bytes) -> bytes:
    for line in request.split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == name:
            return value.strip()
    raise AssertionError(f"no {name!r} header in {request!r}")


async def test_the_app_client_honours_environment_proxies(
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
    assert proxy_mounts_from_env(lambda url: httpx.AsyncHTTPTransport()) == {}


def test_no_proxy_entries_become_httpx_mount_patterns(monkeypatch: pytest.MonkeyPatch) -> None:
    for scheme in ("http", "https", "all", "no"):
        monkeypatch.delenv(f"{scheme}_proxy", raising=False)
        monkeypatch.delenv(f"{scheme.upper()}_PROXY", raising=False)
    monkeypatch.setenv("ALL_PROXY", "proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", "localhost, 10.0.0.1,::1,.corp.example,http://direct.example")
    seen: list[str | None] = []

    def transport(url: str | None) -> httpx.AsyncBaseTransport:
        seen.append(url)
        return httpx.AsyncHTTPTransport()

    mounts = proxy_mounts_from_env(transport)
    assert seen == ["http://proxy.internal:3128"]
    assert [pattern for pattern, target in mounts.items() if target is None] == [
        "all://localhost",
        "all://10.0.0.1",
        "all://[::1]",
        "all://*.corp.example",
        "http://direct.example",
    ]


async def test_the_shared_client_keeps_no_cookies_between_requests() -> None:
    set_cookie = Reply(headers={"Set-Cookie": "session=abc; Path=/"})
    async with HttpServer(set_cookie, set_cookie) as server:
        client = shared_client()
        try:
            for _ in range(2):
                (await client.post(server.url, content=b"{}")).raise_for_status()
        finally:
            await client.aclose()
    assert [r.headers.get("cookie") for r in server.received] == [None, None]
    assert not client.cookies
