"""The fake provider: one small ASGI app that speaks every provider's create and query API.

Each provider lives under its own prefix, so a source's `base_url` is `{fake}/{provider}`
(for example `http://127.0.0.1:9100/vibegen`). A task is `processing` until `delay`
seconds after its creation, then ends with `outcome`; providers that call back POST their
callback to the create body's `callback_url` at that moment (retried twice on failure),
unless `drop_callbacks` is set: then the callback is lost, as when a provider gives up, and
`call_back(task_id)` sends it late.
Errors can be queued with `fail()`: the next matching requests answer with that status in
the provider's own error shape. Every request is recorded in `requests`.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import ssl
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from vidhook.receiver.providers import PROVIDERS
from vidhook.receiver.providers.samples import FakeApi, FakeTask, Json

__all__ = ["FAKE_APIS", "Failure", "FakeProvider", "Seen"]

# Each provider with a task API, as its module says the fake should speak it.
FAKE_APIS: dict[str, FakeApi] = {
    name: provider.task_api.fake
    for name, provider in PROVIDERS.items()
    if provider.task_api is not None
}

Kind = Literal["create", "query", "any"]


@dataclass
class Seen:
    """One request the fake provider received."""

    provider: str
    kind: str
    method: str
    path: str
    authorization: str | None
    body: Json | None
    at: float = field(default_factory=time.monotonic)


@dataclass
class Failure:
    """An error to answer with instead of the real answer."""

    status: int
    on: Kind = "any"
    retry_after: float | None = None
    message: str = "injected failure"


class FakeProvider:
    """Every provider's API in one ASGI app, with its tasks, errors and callbacks."""

    def __init__(
        self,
        *,
        delay: float = 1.0,
        outcome: Literal["completed", "failed"] = "completed",
        api_key: str | None = None,
        poll_interval: float = 2.0,
        answer_delay: float = 0.0,
        callback_verify: bool | ssl.SSLContext = True,
        drop_callbacks: bool = False,
    ) -> None:
        self.delay = delay
        self.outcome: Literal["completed", "failed"] = outcome
        self.api_key = api_key
        self.poll_interval = poll_interval
        self.answer_delay = answer_delay
        self.callback_verify = callback_verify
        self.drop_callbacks = drop_callbacks
        self.tasks: dict[str, FakeTask] = {}
        self.requests: list[Seen] = []
        self.callbacks: list[tuple[str, int | str]] = []
        self.failures: list[Failure] = []
        self.querying = 0
        self.most_querying = 0
        # The most queries of one task that were answered at once (several pollers' doing).
        self.most_querying_one_task = 0
        self._querying_task: dict[str, int] = {}
        self._background: set[asyncio.Task[None]] = set()

    def fail(self, status: int, *, times: int = 1, on: Kind = "any", **options: Any) -> None:
        """Answer the next `times` matching requests with `status`."""
        self.failures.extend(Failure(status, on, **options) for _ in range(times))

    def add_task(
        self, provider: str, *, model: str = "seedance-1.0", url: str | None = None
    ) -> str:
        """Create a task as if through the API; its id."""
        task_id = f"{provider}-{secrets.token_hex(6)}"
        finish_at = time.monotonic() + self.delay
        task = FakeTask(
            provider, task_id, model, self.outcome, finish_at, url, poll_interval=self.poll_interval
        )
        self.tasks[task_id] = task
        if url and FAKE_APIS[provider].callback is not None and not self.drop_callbacks:
            self._spawn(self._call_back(task))
        return task_id

    async def call_back(self, task_id: str) -> httpx.Response:
        """Send a task's callback once, now, in the state the task is in now."""
        task = self.tasks[task_id]
        dialect = FAKE_APIS[task.provider]
        assert dialect.callback is not None and task.callback_url is not None
        body = dialect.callback(task, dialect.words[task.status()])
        async with httpx.AsyncClient(timeout=10, verify=self.callback_verify) as client:
            response = await client.post(task.callback_url, json=body)
        self.callbacks.append((task.callback_url, response.status_code))
        return response

    def seen(self, kind: str, provider: str | None = None) -> list[Seen]:
        """The requests of one kind (`create`, `query`), optionally of one provider."""
        return [s for s in self.requests if s.kind == kind and provider in (None, s.provider)]

    async def close(self) -> None:
        """Stop sending callbacks."""
        for task in self._background:
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """The ASGI entry point."""
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        status, answer, extra = await self._answer(scope["method"], scope["path"], headers, body)
        raw = json.dumps(answer).encode()
        head = [(b"content-type", b"application/json"), *extra]
        await send({"type": "http.response.start", "status": status, "headers": head})
        await send({"type": "http.response.body", "body": raw})

    async def _answer(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, Json, list[tuple[bytes, bytes]]]:
        provider, _, rest = path.lstrip("/").partition("/")
        dialect = FAKE_APIS.get(provider)
        if dialect is None:
            return 404, {"error": {"message": f"no provider {provider!r} here"}}, []
        rest = "/" + rest
        try:
            payload = json.loads(body) if body else None
        except ValueError:
            return 400, dialect.error(400, "body is not JSON"), []
        kind, task_id = _route(dialect, method, rest, payload)
        self.requests.append(
            Seen(provider, kind, method, rest, headers.get("authorization"), payload)
        )
        if kind == "unknown":
            return 404, dialect.error(404, f"no route {method} {rest}"), []
        if self.api_key is not None and headers.get("authorization") != f"Bearer {self.api_key}":
            return 401, dialect.error(401, "Invalid API key"), []
        failure = self._next_failure(kind)
        if failure is not None:
            extra = []
            if failure.retry_after is not None:
                extra.append((b"retry-after", str(failure.retry_after).encode()))
            return failure.status, dialect.error(failure.status, failure.message), extra
        if kind == "create":
            return 200, self._create(provider, dialect, payload or {}), []
        return await self._query(dialect, task_id)

    def _next_failure(self, kind: str) -> Failure | None:
        for i, failure in enumerate(self.failures):
            if failure.on in (kind, "any"):
                return self.failures.pop(i)
        return None

    def _create(self, provider: str, dialect: FakeApi, payload: Json) -> Json:
        url = payload.get("callback_url")
        model = str(payload.get("model") or "seedance-1.0")
        task_id = self.add_task(provider, model=model, url=url if isinstance(url, str) else None)
        return dialect.created(self.tasks[task_id])

    async def _query(self, dialect: FakeApi, task_id: str) -> tuple[int, Json, list[Any]]:
        task = self.tasks.get(task_id)
        if task is None or FAKE_APIS[task.provider] is not dialect:
            return 404, dialect.error(404, "Task not found"), []
        self.querying += 1
        self.most_querying = max(self.most_querying, self.querying)
        same = self._querying_task[task_id] = self._querying_task.get(task_id, 0) + 1
        self.most_querying_one_task = max(self.most_querying_one_task, same)
        try:
            await asyncio.sleep(self.answer_delay)
        finally:
            self.querying -= 1
            self._querying_task[task_id] -= 1
        return 200, dialect.query(task, dialect.words[task.status()]), []

    def _spawn(self, work: Any) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _call_back(self, task: FakeTask) -> None:
        dialect = FAKE_APIS[task.provider]
        assert dialect.callback is not None and task.callback_url is not None
        await asyncio.sleep(max(0.0, task.finish_at - time.monotonic()))
        body = dialect.callback(task, dialect.words[task.status()])
        async with httpx.AsyncClient(timeout=10, verify=self.callback_verify) as client:
            for attempt in range(3):
                try:
                    response = await client.post(task.callback_url, json=body)
                    self.callbacks.append((task.callback_url, response.status_code))
                    if response.is_success:
                        return
                except httpx.HTTPError as exc:
                    self.callbacks.append((task.callback_url, type(exc).__name__))
                await asyncio.sleep(0.5 * 2**attempt)


def _route(dialect: FakeApi, method: str, rest: str, payload: Json | None) -> tuple[str, str]:
    """Which call a request is (`create`, `query` or `unknown`) and the task id it names."""
    if method == "POST" and rest == dialect.create_path:
        return "create", ""
    if dialect.query_prefix and method == "GET" and rest.startswith(dialect.query_prefix):
        return "query", rest[len(dialect.query_prefix) :]
    if method == "POST" and rest == dialect.query_post_path and isinstance(payload, dict):
        return "query", str(payload.get("task_id", ""))
    return "unknown", ""


async def _lifespan(receive: Any, send: Any) -> None:
    """Nothing to start or stop: acknowledge both."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
