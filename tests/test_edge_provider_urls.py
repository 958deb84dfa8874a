"""A task id placed in a provider's URL stays one path segment: `/`, `?`, `#` and `%` are
percent-encoded, and `.` or `..` (which a URL resolves away, sending the API key to another
endpoint) are refused before any request, whether confirm, polling or a watch asks."""

from __future__ import annotations

import json

import httpx
import pytest

from vidhook.receiver.config import parse_settings
from vidhook.receiver.errors import BadRequest
from vidhook.receiver.sources import build_sources
from vidhook.receiver.tasks.provider_api import ProviderApi

BASE = "http://127.0.0.1:9/api"
# Each provider's task-query path, before the task id's segment.
QUERY_PATHS = {
    "vibegen": "/api/tasks/",
    "evolink": "/api/v1/tasks/",
    "ark": "/api/api/v3/contents/generations/tasks/",
    "videoapi": "/api/v1/video/generations/",
    "aioagi": "/api/videos/",
}
ANSWERS = {
    "vibegen": {"success": True, "data": {"id": "{id}", "status": "processing"}},
    "evolink": {"id": "{id}", "status": "processing"},
    "ark": {"id": "{id}", "status": "running"},
    "videoapi": {"task_id": "{id}", "status": "processing"},
    "aioagi": {"id": "{id}", "status": "processing"},
    "seedanceapi": {"code": 0, "message": "ok", "data": {"task_id": "{id}", "status": "success"}},
}
AWKWARD = ["a/b", "a?b=c", "a#b", "a%2Fb", "../x", "a b"]


class Recorder:
    """A provider that records the exact request line of every request and answers with the
    task the request named."""

    def __init__(self, provider: str, task_id: str) -> None:
        self.provider, self.task_id = provider, task_id
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        text = json.dumps(ANSWERS[self.provider]).replace('"{id}"', json.dumps(self.task_id))
        return httpx.Response(200, content=text.encode())


def source(provider: str):
    toml = f'[sources.p]\nprovider = "{provider}"\napi_key = "key-1"\nbase_url = "{BASE}"\n'
    return build_sources(parse_settings(toml, env={}))["p"]


@pytest.mark.parametrize("provider", sorted(QUERY_PATHS))
@pytest.mark.parametrize("task_id", AWKWARD)
async def test_a_task_id_stays_one_path_segment(provider, task_id):
    recorder = Recorder(provider, task_id)
    async with httpx.AsyncClient(transport=httpx.MockTransport(recorder)) as http:
        queried = await ProviderApi(http).query(source(provider), task_id)

    (request,) = recorder.requests
    path = request.url.raw_path.decode()
    assert path.startswith(QUERY_PATHS[provider])
    segment = path.removeprefix(QUERY_PATHS[provider])
    assert "/" not in segment and "?" not in segment and "#" not in segment
    assert httpx.URL(f"http://h/{segment}").path == f"/{task_id}"  # decodes to the id itself
    assert request.url.query == b""
    assert queried.report.task_id == task_id


@pytest.mark.parametrize("task_id", AWKWARD)
async def test_seedanceapi_sends_the_task_id_in_its_body(task_id):
    recorder = Recorder("seedanceapi", task_id)
    async with httpx.AsyncClient(transport=httpx.MockTransport(recorder)) as http:
        await ProviderApi(http).query(source("seedanceapi"), task_id)

    (request,) = recorder.requests
    assert request.url.raw_path == b"/api/v1/video/query"
    assert json.loads(request.content) == {"task_id": task_id}


@pytest.mark.parametrize("provider", [*sorted(QUERY_PATHS), "seedanceapi"])
@pytest.mark.parametrize("task_id", [".", ".."])
async def test_a_dot_task_id_is_refused_before_any_request(provider, task_id):
    recorder = Recorder(provider, task_id)
    async with httpx.AsyncClient(transport=httpx.MockTransport(recorder)) as http:
        with pytest.raises(BadRequest, match="URL path"):
            await ProviderApi(http).query(source(provider), task_id)

    assert recorder.requests == []
