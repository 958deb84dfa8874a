"""Every error answer of the callback endpoint, over HTTP, and the bounded rejection log."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.conftest import fixture_bytes
from vidhook.receiver.store.records import EventFilter, Rejection

LIMIT = 2048
TOKEN = "tok-errors-91ab3c"
BODY = fixture_bytes("vibegen", "callback_completed")

CONFIG = f"""
[server]
max_body_bytes = {LIMIT}
max_json_depth = 8
rejected_log_size = 5

[sources.vibegen]
provider = "vibegen"
tokens = ["{TOKEN}"]

[sources.open]
provider = "vibegen"

[sources.limited]
provider = "vibegen"
rate_limit = 0.001
rate_burst = 2

[sources.also-limited]
provider = "vibegen"
rate_limit = 0.001
rate_burst = 2

[sources.videoapi]
provider = "videoapi"

[sources.partner]
provider = "generic"
mapping = {{ task_id = "data.id", status = "data.state", video_urls = "data.outputs" }}
statuses = {{ done = "completed" }}
"""


@pytest.fixture
async def vidhook(vidhook_factory: Any) -> Any:
    return await vidhook_factory(CONFIG)


def error_of(answer: httpx.Response, status: int, code: str) -> str:
    """Check an error answer's status and shape; return its message."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    body = answer.json()
    assert list(body) == ["error"]
    assert sorted(body["error"]) == ["code", "message"]
    assert body["error"]["code"] == code
    message: str = body["error"]["message"]
    assert message
    return message


async def rejections(vidhook: Any, count: int) -> list[Rejection]:
    """The rejection log once it holds `count` entries (it is written after the answer)."""
    for _ in range(250):
        logged: list[Rejection] = await vidhook.services.store.list_rejected(100)
        if len(logged) >= count:
            return logged
        await asyncio.sleep(0.02)
    return await vidhook.services.store.list_rejected(100)


async def test_unknown_source_is_404(vidhook: Any) -> None:
    answer = await vidhook.client.post("/hooks/nobody", content=BODY)
    assert "no source named 'nobody'" in error_of(answer, 404, "unknown_source")


async def test_failed_authentication_is_401(vidhook: Any) -> None:
    answer = await vidhook.client.post("/hooks/vibegen/not-the-token", content=BODY)
    assert "token does not match" in error_of(answer, 401, "unauthorized")


async def test_body_over_the_limit_by_content_length_is_413(vidhook: Any) -> None:
    answer = await vidhook.client.post("/hooks/open", content=b" " * (LIMIT + 1))
    message = error_of(answer, 413, "payload_too_large")
    assert f"{LIMIT + 1} bytes" in message
    assert f"{LIMIT}-byte limit" in message


async def test_chunked_body_over_the_limit_is_413(vidhook: Any) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(LIMIT // 100 + 2):
            yield b" " * 100

    answer = await vidhook.client.post("/hooks/open", content=chunks())
    assert answer.request.headers.get("transfer-encoding") == "chunked"
    assert f"{LIMIT}-byte limit" in error_of(answer, 413, "payload_too_large")


async def test_body_exactly_at_the_limit_is_read(vidhook: Any) -> None:
    body = BODY + b" " * (LIMIT - len(BODY))
    answer = await vidhook.client.post("/hooks/open", content=body)
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize(
    "body",
    [b"hello", b"{", b'{"task_id": "x",}', b"\xff\xfe{}", b'{"a": "\xc3\x28"}', b"   "],
    ids=["text", "truncated", "trailing-comma", "bom", "bad-utf8", "blank"],
)
async def test_body_that_is_not_json_is_400(vidhook: Any, body: bytes) -> None:
    error_of(await vidhook.client.post("/hooks/open", content=body), 400, "invalid_json")


async def test_empty_body_is_400_and_says_what_was_expected(vidhook: Any) -> None:
    message = error_of(await vidhook.client.post("/hooks/open"), 400, "invalid_json")
    assert "empty" in message


async def test_json_nested_deeper_than_the_limit_is_400(vidhook: Any) -> None:
    within = b'{"task_id": "t-1", "status": "completed", "x": ' + b"[" * 7 + b"]" * 7 + b"}"
    assert (await vidhook.client.post("/hooks/open", content=within)).status_code == 200
    deep = b'{"task_id": "t-2", "status": "completed", "x": ' + b"[" * 8 + b"]" * 8 + b"}"
    message = error_of(await vidhook.client.post("/hooks/open", content=deep), 400, "json_too_deep")
    assert "max_json_depth" in message


async def test_brackets_inside_strings_do_not_count_as_depth(vidhook: Any) -> None:
    body = b'{"task_id": "[[[[[[[[[[{{{{{{{{", "status": "completed", "e": "\\"[[[[[[[[[["}'
    assert (await vidhook.client.post("/hooks/open", content=body)).status_code == 200


@pytest.mark.parametrize(
    ("source", "body", "says"),
    [
        ("open", b'{"task_id": 5, "status": "completed"}', "`$.task_id`"),
        ("open", b'{"task_id": "t", "status": ["completed"]}', "`$.status`"),
        ("open", b'{"status": "completed"}', "`task_id`"),
        ("open", b'{"task_id": "t", "status": "exploded"}', "'exploded' at `status`"),
        ("open", b'{"task_id": "", "status": "completed"}', "empty task id at `task_id`"),
        ("open", b"[1, 2, 3]", "Expected `object`, got `array`"),
        ("open", b'"completed"', "Expected `object`, got `str`"),
        ("partner", b'{"data": {"id": "j"}}', "no status at `data.state`"),
        ("partner", b'{"data": {"id": "j", "state": "weird"}}', "'weird' at `data.state`"),
        ("partner", b'{"data": {"id": "j", "state": "done", "outputs": 5}}', "`data.outputs`"),
        ("partner", b'{"data": {"id": [1], "state": "done"}}', "`data.id`"),
    ],
)
async def test_json_the_provider_cannot_read_is_422_naming_the_path(
    vidhook: Any, source: str, body: bytes, says: str
) -> None:
    answer = await vidhook.client.post(f"/hooks/{source}", content=body)
    assert says in error_of(answer, 422, "unreadable_payload")


async def test_over_the_rate_limit_is_429_with_retry_after(vidhook: Any) -> None:
    for i in range(2):
        body = BODY.replace(b"550e8400", f"rate-{i}".encode())
        assert (await vidhook.client.post("/hooks/limited", content=body)).status_code == 200
    answer = await vidhook.client.post("/hooks/limited", content=BODY)
    assert "'limited' is over its rate limit" in error_of(answer, 429, "rate_limited")
    assert int(answer.headers["retry-after"]) >= 1
    other = await vidhook.client.post("/hooks/also-limited", content=BODY)
    assert other.status_code == 200, "one source's limit must not hold back another"
    assert (await vidhook.client.post("/hooks/open", content=BODY)).status_code == 200


async def test_callback_to_a_polled_only_source_says_it_is_polled(vidhook: Any) -> None:
    answer = await vidhook.client.post("/hooks/videoapi", content=b"{}")
    message = error_of(answer, 404, "no_callbacks")
    assert "videoapi" in message
    assert "polls" in message


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
async def test_wrong_method_is_405(vidhook: Any, method: str) -> None:
    answer = await vidhook.client.request(method, "/hooks/open")
    message = error_of(answer, 405, "method_not_allowed")
    assert method in message
    assert "POST" in answer.headers["allow"]


@pytest.mark.parametrize(
    "path", ["/nothing", "/hooks", "/hooks/", "/hooks/open/tok/extra", "/hook/open"]
)
async def test_unknown_path_is_404(vidhook: Any, path: str) -> None:
    message = error_of(await vidhook.client.post(path, content=BODY), 404, "not_found")
    assert "/hooks/{source}" in message


async def test_refused_requests_are_logged_with_reason_client_size_and_head(
    vidhook: Any,
) -> None:
    big = b"x" * (LIMIT + 10)
    await vidhook.client.post("/hooks/nobody", content=BODY)
    await vidhook.client.post("/hooks/open", content=b"not json")
    await vidhook.client.post("/hooks/open", content=big)
    logged = await rejections(vidhook, 3)
    assert [(r.source, r.reason, r.status, r.size) for r in logged] == [
        ("open", "payload_too_large", 413, LIMIT + 10),
        ("open", "invalid_json", 400, 8),
        ("nobody", "unknown_source", 404, len(BODY)),
    ]
    assert logged[1].head == b"not json"
    assert logged[2].head == BODY
    assert all(r.client == "127.0.0.1" and r.message for r in logged)
    assert await vidhook.services.store.list_events(EventFilter(), 10) == []


async def test_rejection_log_keeps_the_first_4_kib_of_a_body(vidhook_factory: Any) -> None:
    vidhook = await vidhook_factory('[sources.open]\nprovider = "vibegen"\n')
    body = b'{"task_id": 1, "pad": "' + b"p" * 10_000 + b'"}'
    await vidhook.client.post("/hooks/open", content=body)
    (logged,) = await rejections(vidhook, 1)
    assert logged.size == len(body)
    assert logged.head == body[:4096]


async def test_rejection_log_stays_bounded(vidhook: Any) -> None:
    for i in range(12):
        await vidhook.client.post(f"/hooks/nobody-{i}", content=b"{}")
    for _ in range(250):
        logged = await vidhook.services.store.list_rejected(100)
        if logged and logged[0].source == "nobody-11":
            break
        await asyncio.sleep(0.02)
    assert [r.source for r in logged] == [f"nobody-{i}" for i in range(11, 6, -1)]


async def test_unknown_source_names_do_not_become_metric_labels(vidhook: Any) -> None:
    for i in range(20):
        await vidhook.client.post(f"/hooks/random-{i}", content=b"{}")
    await vidhook.client.post("/hooks/open", content=b"nope")
    metrics = (await vidhook.client.get("/metrics")).text
    assert "random-" not in metrics
    assert 'vidhook_rejected_total{reason="unknown_source",source="(unknown)"} 20.0' in metrics
    assert 'vidhook_rejected_total{reason="invalid_json",source="open"} 1.0' in metrics


async def test_the_server_keeps_serving_after_every_error(vidhook: Any) -> None:
    answer = await vidhook.client.post(f"/hooks/vibegen/{TOKEN}", content=BODY)
    assert answer.status_code == 200, answer.text
    assert (await vidhook.client.get("/healthz")).status_code == 200


async def test_a_client_that_leaves_mid_body_is_logged_as_incomplete(vidhook: Any) -> None:
    port = int(vidhook.url.rsplit(":", 1)[1])
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"POST /hooks/open HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{")
    await writer.drain()
    writer.close()
    await writer.wait_closed()
    (logged,) = await rejections(vidhook, 1)
    assert (logged.source, logged.reason, logged.status) == ("open", "incomplete_body", 400)
    assert (await vidhook.client.post("/hooks/open", content=BODY)).status_code == 200


async def test_refused_strangers_do_not_spend_a_sources_rate_limit(vidhook_factory: Any) -> None:
    vidhook = await vidhook_factory(
        f'[sources.guarded]\nprovider = "vibegen"\ntokens = ["{TOKEN}"]\n'
        "rate_limit = 0.001\nrate_burst = 2\n"
    )
    for _ in range(10):
        answer = await vidhook.client.post("/hooks/guarded/forged-token", content=BODY)
        error_of(answer, 401, "unauthorized")
    for i in range(2):
        body = BODY.replace(b"550e8400", f"guarded-{i}".encode())
        answer = await vidhook.client.post(f"/hooks/guarded/{TOKEN}", content=body)
        assert answer.status_code == 200, answer.text
    answer = await vidhook.client.post(f"/hooks/guarded/{TOKEN}", content=BODY)
    error_of(answer, 429, "rate_limited")
