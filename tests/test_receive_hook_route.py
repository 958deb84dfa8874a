"""The callback endpoint is served before Litestar routes: what Litestar's request cycle gave it
(request ids, path normalisation, the Host check, streamed bodies, /schema) it still has."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
import structlog
from structlog.contextvars import merge_contextvars
from structlog.testing import capture_logs

from tests.conftest import fixture_bytes
from tests.test_receive_errors import error_of, rejections
from vidhook.receiver.hook_route import HookRoute
from vidhook.receiver.hooks import HookRequest
from vidhook.receiver.store.records import EventFilter

TOKEN = "tok-route-5d1e0f"
BODY = fixture_bytes("vibegen", "callback_completed")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")

CONFIG = f"""
[sources.vibegen]
provider = "vibegen"
tokens = ["{TOKEN}"]
"""


@pytest.fixture
async def vidhook(vidhook_factory: Any) -> Any:
    return await vidhook_factory(CONFIG)


def with_task(task_id: str) -> bytes:
    return BODY.replace(b"550e8400-e29b-41d4-a716-446655440000", task_id.encode())


async def test_a_stored_callback_echoes_the_clients_request_id(vidhook: Any) -> None:
    headers = {"X-Request-ID": "provider-req.42:a"}
    answer = await vidhook.client.post(f"/hooks/vibegen/{TOKEN}", content=BODY, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers.get_list("x-request-id") == ["provider-req.42:a"]


@pytest.mark.parametrize("given", [None, "has space", "x" * 129])
async def test_a_callback_without_a_sane_request_id_gets_a_new_one(
    vidhook: Any, given: str | None
) -> None:
    headers = {"X-Request-ID": given} if given else {}
    answer = await vidhook.client.post(f"/hooks/vibegen/{TOKEN}", content=BODY, headers=headers)
    assert answer.status_code == 200, answer.text
    (request_id,) = answer.headers.get_list("x-request-id")
    assert UUID.fullmatch(request_id)
    assert request_id != answer.json()["id"]


async def test_a_refused_callback_carries_the_request_id_too(vidhook: Any) -> None:
    headers = {"X-Request-ID": "refused-1"}
    answer = await vidhook.client.post("/hooks/vibegen/wrong", content=BODY, headers=headers)
    error_of(answer, 401, "unauthorized")
    assert answer.headers.get_list("x-request-id") == ["refused-1"]


@pytest.mark.parametrize(
    "path", [f"/hooks/vibegen/{TOKEN}/", f"/hooks//vibegen/{TOKEN}", "/hooks/vibegen/"]
)
async def test_a_path_with_extra_slashes_is_the_same_callback(vidhook: Any, path: str) -> None:
    task_id = f"slashes-{len(path)}-{path.count('/')}"
    answer = await vidhook.client.post(
        path, content=with_task(task_id), headers={"X-Request-ID": "slashes"}
    )
    if path == "/hooks/vibegen/":  # the token is missing, as on /hooks/vibegen
        error_of(answer, 401, "unauthorized")
    else:
        assert answer.status_code == 200, answer.text
        (event,) = await vidhook.services.store.list_events(EventFilter(task_id=task_id), 10)
        assert event.event.id == answer.json()["id"]
    assert answer.headers.get_list("x-request-id") == ["slashes"]


async def test_an_invalid_host_header_is_refused_before_routing(vidhook: Any) -> None:
    answer = await vidhook.client.post(
        f"/hooks/vibegen/{TOKEN}", content=BODY, headers={"Host": "bad host"}
    )
    error_of(answer, 400, "bad_request")
    assert await vidhook.services.store.list_events(EventFilter(), 10) == []


async def test_a_body_sent_in_chunks_is_read_whole(vidhook: Any) -> None:
    body = with_task("chunked-1")

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 7):
            yield body[start : start + 7]

    answer = await vidhook.client.post(f"/hooks/vibegen/{TOKEN}", content=chunks())
    assert answer.request.headers.get("transfer-encoding") == "chunked"
    assert answer.status_code == 200, answer.text
    raw = await vidhook.services.store.get_raw(answer.json()["id"])
    assert raw is not None and raw.body == body


async def test_the_token_may_come_from_the_query(vidhook: Any) -> None:
    answer = await vidhook.client.post(
        "/hooks/vibegen", params={"other": "x", "token": TOKEN}, content=with_task("query-1")
    )
    assert answer.status_code == 200, answer.text
    answer = await vidhook.client.post("/hooks/vibegen?token=", content=with_task("query-2"))
    error_of(answer, 401, "unauthorized")
    (logged,) = await rejections(vidhook, 1)
    assert logged.reason == "unauthorized"


async def test_the_endpoint_stays_documented_in_the_schema(vidhook: Any) -> None:
    schema = (await vidhook.client.get("/schema/openapi.json")).json()
    for path in ("/hooks/{source}", "/hooks/{source}/{token}"):
        operation = schema["paths"][path]["post"]
        assert operation["summary"] == "Receive a provider callback"
        assert {"200", "400", "401", "404", "413", "422", "429", "503"} <= set(
            operation["responses"]
        )


class _LoggingRoute(HookRoute):
    """A route whose callback handling only logs a line."""

    def __init__(self) -> None:
        pass

    async def respond(self, receive: Any, send: Any, request: Any, *extra: Any) -> None:
        structlog.get_logger("test").info("handling", echoed=dict(extra)[b"x-request-id"])


async def test_the_request_id_is_bound_to_the_requests_log_lines_and_only_to_them() -> None:
    request = HookRequest("vibegen", TOKEN, {}, "127.0.0.1", b"", b"provider-req-7")
    with capture_logs(processors=[merge_contextvars]) as logs:
        await _LoggingRoute().serve({}, None, None, request)  # type: ignore[arg-type]
        structlog.get_logger("test").info("after")
    assert logs[0]["request_id"] == "provider-req-7"
    assert logs[0]["echoed"] == b"provider-req-7"
    assert "request_id" not in logs[1]
