"""Property tests: no body, header, path or query string makes the callback endpoint answer 500.

One vidhook serves the whole module from a thread of its own; each example is one raw HTTP/1.1
request on a fresh socket, so the bytes on the wire are exactly what the strategy drew.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import fixture_json, start_vidhook
from vidhook.receiver.config import parse_settings
from vidhook.receiver.identifiers import MAX_TASK_ID

TOKEN = "tok-fuzz-5e6f7a8b"
CONFIG = f"""
[store]
url = "sqlite:///{{dir}}/fuzz.db"

[server]
max_body_bytes = 65536

[sources.vibegen]
provider = "vibegen"
tokens = ["{TOKEN}"]

[sources.evolink]
provider = "evolink"

[sources.ark]
provider = "ark"

[sources.videoapi]
provider = "videoapi"

[sources.partner]
provider = "generic"
mapping = {{ task_id = "data.id", status = "data.state", video_urls = "data.outputs", \
error = "data.error", model = "data.model", progress = "data.progress", \
created_at = "data.created", finished_at = "data.finished" }}
statuses = {{ done = "completed", error = "failed" }}

[sources.signed]
provider = "vibegen"
hmac = {{ secret = "fuzz-secret-0123456789", template = "{{timestamp}}.{{body}}", \
timestamp_header = "X-Timestamp" }}

[sources.standard]
provider = "ark"
standard_webhooks = {{ secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" }}

[sources.proxied]
provider = "evolink"
allow_ips = ["127.0.0.0/8", "::1/128"]
trusted_proxies = ["127.0.0.1/32"]

[sinks.out]
type = "file"
path = "{{dir}}/events.jsonl"

[[rules]]
name = "all"
sinks = ["out"]
"""

SOURCES = ["vibegen", "evolink", "ark", "videoapi", "partner", "signed", "standard", "proxied"]
SETTINGS = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass
class Server:
    """A vidhook running in a thread, and the raw client that talks to it."""

    port: int

    def send(self, head: bytes, body: bytes = b"") -> Answer:
        """Send a request; with `Expect: 100-continue` in the head, the body waits for the go."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=30) as sock:
            if b"\r\nExpect: 100-continue" in head:
                sock.sendall(head)
                interim = sock.recv(65536)
                if not interim.startswith(b"HTTP/1.1 100 "):
                    return self._parse(interim + self._read_all(sock))
                head = b""
            sock.sendall(head + body)
            return self._parse(self._read_all(sock))

    @staticmethod
    def _read_all(sock: socket.socket) -> bytes:
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
        return received

    @staticmethod
    def _parse(received: bytes) -> Answer:
        head, _, body = received.partition(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return Answer(int(status_line.split()[1]), headers, body)

    def post(
        self,
        target: bytes,
        body: bytes = b"{}",
        headers: list[tuple[bytes, bytes]] = (),
        *,
        expect_continue: bool = False,
    ) -> Answer:
        lines = [b"POST " + target + b" HTTP/1.1", b"Host: 127.0.0.1", b"Connection: close"]
        lines.append(b"Content-Length: " + str(len(body)).encode())
        if expect_continue:
            lines.append(b"Expect: 100-continue")
        lines += [name + b": " + value for name, value in headers]
        return self.send(b"\r\n".join(lines) + b"\r\n\r\n", body)

    def get(self, target: bytes) -> Answer:
        return self.send(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    directory: Path = tmp_path_factory.mktemp("fuzz")
    settings_ = parse_settings(CONFIG.replace("{dir}", str(directory)), env={})
    ready = threading.Event()
    box: dict[str, Any] = {}

    async def serve() -> None:
        running, stop = await start_vidhook(settings_)
        box["port"] = int(running.url.rsplit(":", 1)[1])
        box["loop"], box["done"] = asyncio.get_running_loop(), asyncio.Event()
        ready.set()
        await box["done"].wait()
        await stop()

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    assert ready.wait(30), "vidhook did not start"
    running = Server(box["port"])
    yield running
    still_serving(running)
    box["loop"].call_soon_threadsafe(box["done"].set)
    thread.join(30)


def check(answer: Answer) -> None:
    """No 5xx; an error the app wrote is `{"error": {"code", "message"}}`."""
    assert answer.status < 500, (answer.status, answer.body[:500])
    if answer.status >= 400 and answer.headers.get("content-type") == "application/json":
        error = json.loads(answer.body)["error"]
        assert isinstance(error["code"], str) and error["code"]
        assert isinstance(error["message"], str) and error["message"]


def still_serving(server: Server) -> None:
    assert server.get(b"/healthz").status == 200
    assert server.get(b"/readyz").status == 200


# Strategies

json_leaves = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=40)
    | st.sampled_from(["completed", "failed", "succeeded", "done", "queued", "processing"])
)
KEYS = [
    "task_id", "id", "status", "state", "data", "video_url", "results", "content", "error",
    "error_message", "message", "code", "created_at", "completed_at", "failed_at", "updated_at",
    "created", "finished", "model", "progress", "outputs", "url", "usage", "credits_reserved",
]  # fmt: skip
json_values = st.recursive(
    json_leaves,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), inner, max_size=6)
    ),
    max_leaves=25,
)
FIXTURES = [
    ("vibegen", fixture_json("vibegen", "callback_completed")),
    ("evolink", fixture_json("evolink", "callback_failed")),
    ("ark", fixture_json("ark", "callback_succeeded")),
    ("partner", fixture_json("generic", "partner_done")),
]


@st.composite
def mutated_fixture(draw: st.DrawFn) -> tuple[str, bytes]:
    """A real callback with some of its fields replaced by anything JSON can hold."""
    source, document = draw(st.sampled_from(FIXTURES))
    document = json.loads(json.dumps(document))
    target = document.get("data", document)
    for key in draw(st.lists(st.sampled_from(sorted(target)), max_size=3)):
        target[key] = draw(json_values)
    return source, json.dumps(document, ensure_ascii=draw(st.booleans())).encode()


def target_of(source: str) -> bytes:
    return (
        f"/hooks/{source}/{TOKEN}".encode() if source == "vibegen" else f"/hooks/{source}".encode()
    )


bodies = st.one_of(
    st.binary(max_size=3000),
    json_values.map(lambda value: json.dumps(value).encode()),
    st.text(max_size=500).map(str.encode),
)


@SETTINGS
@given(source=st.sampled_from(SOURCES), body=bodies)
def test_random_bodies_never_make_a_500(server: Server, source: str, body: bytes) -> None:
    check(server.post(target_of(source), body))


@SETTINGS
@given(mutated_fixture())
def test_mutated_provider_callbacks_never_make_a_500(
    server: Server, case: tuple[str, bytes]
) -> None:
    source, body = case
    answer = server.post(target_of(source), body)
    check(answer)
    assert answer.status in (200, 400, 422), answer.body


@SETTINGS
@given(
    source=st.sampled_from(["vibegen", "partner"]),
    depth=st.integers(min_value=1, max_value=3000),
    opener=st.sampled_from([b"[", b'{"a":']),
    closed=st.booleans(),
)
def test_deeply_nested_json_never_makes_a_500(
    server: Server, source: str, depth: int, opener: bytes, closed: bool
) -> None:
    closer = b"]" if opener == b"[" else b"}"
    nested = opener * depth + b"1" + (closer * depth if closed else b"")
    for body in (nested, b'{"task_id": "d", "status": "completed", "x": ' + nested + b"}"):
        answer = server.post(target_of(source), body)
        check(answer)
        if depth > 64 and answer.status != 413:
            assert answer.status == 400, answer.body


@settings(max_examples=30, deadline=None)
@given(size=st.integers(min_value=1, max_value=70_000), char=st.sampled_from("x\u00e9\u4e2d\\"))
def test_huge_strings_never_make_a_500(server: Server, size: int, char: str) -> None:
    text = json.dumps(char * size)
    body = ('{"task_id": ' + text + ', "status": "completed"}').encode()
    # The server refuses an oversized body by its Content-Length, before the body is sent.
    answer = server.post(target_of("vibegen"), body, expect_continue=True)
    check(answer)
    # A task id over the limit is refused by name; other strings are only limited in size.
    assert answer.status in ((200, 413) if size <= MAX_TASK_ID else (400, 413)), answer.body


@SETTINGS
@given(
    prefix=st.sampled_from([b'{"task_id": "', b'{"task_id": "u", "status": "completed", "x": "']),
    garbage=st.binary(min_size=1, max_size=50),
)
def test_invalid_utf8_never_makes_a_500(server: Server, prefix: bytes, garbage: bytes) -> None:
    body = prefix + garbage + b'"}'
    answer = server.post(target_of("vibegen"), body)
    check(answer)
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        assert answer.status == 400, answer.body


HEADER_NAMES = st.sampled_from(
    [
        b"Authorization", b"X-Signature", b"X-Timestamp", b"webhook-id", b"webhook-timestamp",
        b"webhook-signature", b"X-Forwarded-For", b"Content-Type", b"X-Request-ID", b"Accept",
        b"Cookie", b"Forwarded", b"X-Real-IP",
    ]
) | st.from_regex(rb"\A[!#$%&'*+.^_`|~0-9A-Za-z-]{1,40}\Z").filter(
    lambda name: name.lower()
    not in (b"content-length", b"transfer-encoding", b"host", b"connection", b"expect", b"upgrade")
)  # fmt: skip
HEADER_VALUES = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
    max_size=200,
).map(lambda text: text.encode("latin-1"))


@SETTINGS
@given(
    source=st.sampled_from(SOURCES),
    headers=st.lists(st.tuples(HEADER_NAMES, HEADER_VALUES), max_size=8),
    case=mutated_fixture(),
)
def test_random_headers_never_make_a_500(
    server: Server, source: str, headers: list[tuple[bytes, bytes]], case: tuple[str, bytes]
) -> None:
    check(server.post(target_of(source), case[1], headers))


segments = st.text(max_size=30).map(lambda text: quote(text, safe="").encode()) | st.binary(
    max_size=30
).map(lambda raw: raw.replace(b"\r", b"").replace(b"\n", b""))
queries = st.lists(
    st.tuples(st.sampled_from(["token", "t", ""]) | st.text(max_size=10), st.text(max_size=30)),
    max_size=4,
).map(lambda pairs: "&".join(f"{quote(k)}={quote(v)}" for k, v in pairs).encode())


@SETTINGS
@given(
    prefix=st.sampled_from([b"/hooks/", b"/hooks/vibegen/", b"/", b"/hooks", b"/healthz/"]),
    parts=st.lists(segments, max_size=4),
    query=st.none() | queries | st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")),
)
def test_random_paths_and_query_strings_never_make_a_500(
    server: Server, prefix: bytes, parts: list[bytes], query: bytes | None
) -> None:
    target = prefix + b"/".join(parts) + (b"?" + query if query is not None else b"")
    check(server.post(target.replace(b"\r", b"")))


def test_the_server_still_serves_after_the_fuzzing(server: Server) -> None:
    still_serving(server)
    body = json.dumps(fixture_json("vibegen", "callback_failed")).encode()
    answer = server.post(target_of("vibegen"), body)
    assert answer.status == 200, answer.body
