"""Every endpoint that reads a JSON body refuses one nested too deep or too large with a 400 or
413 in the error shape, before anything decodes it."""

from __future__ import annotations

import pytest

from tests.stored_events import ADMIN, CONFIG, SUBMITTER, bearer

# (path, token) of every endpoint whose body Litestar decodes as JSON.
JSON_ENDPOINTS = [
    ("/v1/submit/vibegen", SUBMITTER),
    ("/admin/tasks", ADMIN),
    ("/admin/replay", ADMIN),
    ("/admin/events/0190f7a4-0000-7000-8000-000000000000/replay", ADMIN),
]


@pytest.mark.parametrize(("path", "token"), JSON_ENDPOINTS)
async def test_json_nested_a_thousand_deep_is_a_400(vidhook_factory, path, token):
    vidhook = await vidhook_factory(CONFIG, run_workers=False)
    body = b'{"labels": ' + b"[" * 5000 + b"]" * 5000 + b"}"

    answer = await vidhook.client.post(
        path, content=body, headers={**bearer(token), "content-type": "application/json"}
    )

    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == "json_too_deep"
    assert "server.max_json_depth" in answer.json()["error"]["message"]
    healthy = await vidhook.client.get("/healthz")
    assert healthy.status_code == 200


@pytest.mark.parametrize(("path", "token"), JSON_ENDPOINTS)
async def test_json_just_within_the_depth_limit_is_read(vidhook_factory, path, token):
    vidhook = await vidhook_factory(CONFIG, run_workers=False)
    depth = vidhook.services.settings.server.max_json_depth
    body = b'{"labels": ' + b"[" * (depth - 1) + b"]" * (depth - 1) + b"}"

    answer = await vidhook.client.post(
        path, content=body, headers={**bearer(token), "content-type": "application/json"}
    )

    # Decoded, then refused by the schema (labels is an object of strings), not by the depth.
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] != "json_too_deep"


@pytest.mark.parametrize(("path", "token"), JSON_ENDPOINTS)
async def test_a_body_over_max_body_bytes_is_a_413(vidhook_factory, path, token):
    vidhook = await vidhook_factory("[server]\nmax_body_bytes = 2048\n" + CONFIG, run_workers=False)
    body = b'{"labels": {"a": "' + b"x" * 4096 + b'"}}'

    answer = await vidhook.client.post(
        path, content=body, headers={**bearer(token), "content-type": "application/json"}
    )

    assert answer.status_code == 413, answer.text
    assert answer.json()["error"]["code"] == "payload_too_large"
