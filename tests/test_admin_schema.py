"""The OpenAPI schema at /schema describes the admin and task APIs: schemathesis generates
requests for every operation of the admin router, the task endpoints and submit, valid and
invalid, with a valid token, against the real app on a loopback socket (the provider behind
submit is faked); none may get a 500, an undocumented status or a body that breaks the
schema."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import fixture_bytes
from tests.stored_events import ADMIN, CONFIG, HOOK, SUBMITTER, bearer
from vidhook.receiver.admin import admin_router
from vidhook.receiver.app import create_app
from vidhook.receiver.config import parse_settings

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    """vidhook serving on loopback from its own thread (schemathesis calls block)."""
    text = f'[store]\nurl = "sqlite:///{tmp_path / "schema.db"}"\n'
    text += CONFIG.replace("{dir}", str(tmp_path)).replace(
        '[sources.vibegen]\nprovider = "vibegen"\n',
        '[sources.vibegen]\nprovider = "vibegen"\napi_key = "provider-key"\n',
    )
    http = httpx.AsyncClient(transport=httpx.MockTransport(_provider))
    app = create_app(parse_settings(text, env={}), http=http, run_workers=False)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, lifespan="on")
    )
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    for _ in range(500):
        if server.started:
            break
        threading.Event().wait(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    for name in ("callback_completed", "callback_failed"):  # something to list and show
        body = fixture_bytes("vibegen", name)
        httpx.post(f"{url}/hooks/vibegen/{HOOK}", content=body).raise_for_status()
    yield url
    server.should_exit = True
    thread.join(timeout=15)


def _provider(request: httpx.Request) -> httpx.Response:
    """vibegen's API as it answers a create and a query."""
    name = "create_response" if request.method == "POST" else "query_processing"
    return httpx.Response(200, content=fixture_bytes("vibegen", name))


def _operations(served: str, paths: set[str]) -> list[schemathesis.schemas.APIOperation]:
    schema = schemathesis.openapi.from_url(f"{served}/schema/openapi.json")
    ours = {re.sub(r":\w+}", "}", path) for path in paths}
    operations = [result.ok() for result in schema.get_all_operations()]
    found = [op for op in operations if op.path in ours]
    assert {op.path for op in found} == ours
    return found


def test_admin_api_matches_its_schema(served: str) -> None:
    admin = _operations(served, {route.path for route in admin_router.routes})
    headers = bearer()
    stored = httpx.get(f"{served}/admin/deliveries", headers=headers).json()["items"][0]
    known = {"event_id": stored["event_id"], "delivery_id": stored["id"], "sink": stored["sink"],
             "job_id": "0190a000-0000-7000-8000-000000000001"}  # fmt: skip
    _check(served, admin, headers, known)


def test_task_api_and_submit_match_their_schema(served: str) -> None:
    paths = {"/v1/submit/{source:str}", "/admin/tasks", "/admin/tasks/{source:str}/{task_id:str}"}
    operations = _operations(served, paths)
    body = {"body": {"prompt": "a kite"}, "labels": {"team": "ads"}}
    made = httpx.post(f"{served}/v1/submit/vibegen", json=body, headers=bearer(SUBMITTER))
    assert made.status_code == 201, made.text
    known = {"source": "vibegen", "task_id": made.json()["task"]["task_id"]}
    for operation in operations:
        token = SUBMITTER if operation.path.startswith("/v1/") else ADMIN
        _check(served, [operation], bearer(token), known)


def _check(
    served: str,
    operations: list[schemathesis.schemas.APIOperation],
    headers: dict[str, str],
    known: dict[str, str],
) -> None:
    """Call each operation with generated cases, and with the ids of things that exist."""
    for operation in operations:
        strategies = [
            operation.as_strategy(generation_mode=mode, headers=headers)
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        ]
        names = {p.name for p in operation.path_parameters}
        if names:  # also the ids of things that exist, so the 200 answers are checked too
            fixed = {name: known[name] for name in names}
            strategies.append(operation.as_strategy(headers=headers, path_parameters=fixed))

        @given(case=st.one_of(strategies))
        @settings(
            max_examples=25,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate(base_url=served, headers=headers, checks=CHECKS, timeout=10)

        check()
