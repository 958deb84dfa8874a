"""Calls to a provider's own API for one source: create a task, read a task.

Every call carries the source's `api_key` as `Authorization: Bearer`. A provider's error
answer becomes an `UpstreamError` with the provider's status and message, so a caller sees
401, 402 (insufficient credits), 429 or 5xx just as the provider said it. Task reads of one
source share a bound (`max_polls_in_flight`), whether polling or confirming asks, and given
`QueryPacers` the reads of one API key are paced to its query rate (see `query_pacing`).
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlsplit

import httpx
import msgspec

from vidhook.receiver.errors import Conflict, RateLimited, UpstreamError, VidhookError
from vidhook.receiver.event import TaskReport
from vidhook.receiver.providers.base import ProviderRequest, TaskApi
from vidhook.receiver.retry_after import parse_retry_after
from vidhook.receiver.sources import Source
from vidhook.receiver.store.records import RawRequest
from vidhook.receiver.stored_headers import stored_headers
from vidhook.receiver.tasks.query_pacing import QueryPacers

__all__ = [
    "ProviderApi",
    "ProviderRateLimited",
    "Queried",
    "can_query",
    "provider_error",
    "task_api",
]

_EXCERPT = 300

# vidhook's error code for each provider status; any other status is `provider_error`.
_CODES = {
    401: "provider_unauthorized",
    402: "insufficient_credits",
    403: "provider_forbidden",
    404: "provider_not_found",
    429: "provider_rate_limited",
}


class ProviderRateLimited(RateLimited):
    """The provider asked us to slow down."""

    code = "provider_rate_limited"


class Queried(msgspec.Struct, frozen=True):
    """A task as the provider's query endpoint reported it, and the answer it came in."""

    report: TaskReport
    raw: RawRequest


def can_query(source: Source) -> bool:
    """Whether vidhook can read this source's tasks from its provider: a task-query API, an
    address and a key."""
    return (
        source.provider.task_api is not None
        and bool(source.base_url)
        and source.config.api_key is not None
    )


def task_api(source: Source) -> TaskApi[Any]:
    """The source's provider's task API, refused when vidhook cannot call it for this source."""
    where = f"sources.{source.name}"
    api = source.provider.task_api
    if api is None:
        raise Conflict(
            f"source {source.name!r} is a {source.config.provider} source, which has no task API"
            " to call",
            code="no_provider_api",
        )
    if not source.base_url:
        raise Conflict(
            f"{where}.base_url is not set, and {source.config.provider} has no public address",
            code="no_provider_api",
        )
    if source.config.api_key is None:
        raise Conflict(
            f"{where}.api_key is not set; vidhook needs the provider's API key to call it",
            code="no_provider_api",
        )
    return api


class ProviderApi:
    """The provider APIs of every source, over one injected HTTP client."""

    def __init__(self, http: httpx.AsyncClient, pacers: QueryPacers | None = None) -> None:
        self.http = http
        self.pacers = pacers
        self._limits: dict[str, asyncio.Semaphore] = {}

    async def create(self, source: Source, body: dict[str, Any]) -> tuple[int, bytes]:
        """Create a task with the provider's own create body; its status and answer."""
        url = source.base_url + task_api(source).submit_path
        response = await self._send(source, ProviderRequest("POST", url, json=body))
        return response.status_code, response.content

    async def query(self, source: Source, task_id: str) -> Queried:
        """Read one task from the provider, as a TaskReport and the raw answer."""
        api = task_api(source)
        request = api.query_request(source.base_url, task_id)
        limit = self._limits.setdefault(
            source.name, asyncio.Semaphore(source.config.max_polls_in_flight)
        )
        pacer = self.pacers.of(source) if self.pacers is not None else None
        async with limit:
            if pacer is not None:
                await pacer.turn()
            try:
                response = await self._send(source, request)
            except ProviderRateLimited as exc:
                if pacer is not None:
                    await pacer.pause(exc.retry_after)
                raise
        report = api.read_query(response.content, source.config)
        raw = RawRequest(
            method=request.method,
            path=request.url,
            client=urlsplit(request.url).netloc,
            headers=stored_headers(dict(response.headers.items())),
            body=response.content,
        )
        return Queried(report=report, raw=raw)

    async def _send(self, source: Source, request: ProviderRequest) -> httpx.Response:
        provider = source.config.provider
        headers = {"Authorization": f"Bearer {source.config.api_key}"}
        try:
            response = await self.http.request(
                request.method, request.url, json=request.json, headers=headers
            )
        except httpx.TimeoutException:
            raise UpstreamError(
                f"{provider} did not answer in time at {request.url}",
                status_code=504,
                code="provider_timeout",
            ) from None
        except httpx.HTTPError as exc:
            raise UpstreamError(
                f"could not reach {provider} at {request.url}: {type(exc).__name__} {exc}",
                status_code=502,
                code="provider_unreachable",
            ) from None
        if not response.is_success:
            raise provider_error(provider, response)
        return response


def provider_error(provider: str, response: httpx.Response) -> VidhookError:
    """vidhook's error for a provider's error answer, keeping its status and message."""
    status = response.status_code
    message = f"{provider} answered {status}: {_message(response)}"
    if status == 429:
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        return ProviderRateLimited(message, retry_after=retry_after or 1.0)
    if 400 <= status < 600:
        code = _CODES.get(status, "provider_unavailable" if status >= 500 else "provider_error")
        return UpstreamError(message, status_code=status, code=code)
    # A redirect or an odd status is not an answer we can pass on as the caller's status.
    return UpstreamError(message, status_code=502, code="provider_error")


def _message(response: httpx.Response) -> str:
    """The provider's own words: its error message field if it has one, else the body start."""
    try:
        body = response.json()
    except ValueError:
        body = None
    found = _error_text(body)
    if found:
        return found[:_EXCERPT]
    text = response.text.strip()
    return text[:_EXCERPT] if text else response.reason_phrase or "no message"


def _error_text(body: object) -> str | None:
    if not isinstance(body, dict):
        return None
    error = body.get("error")
    if isinstance(error, dict):
        error = error.get("message") or error.get("code")
    for value in (error, body.get("message"), body.get("msg"), body.get("detail")):
        if isinstance(value, str) and value:
            return value
    return None
