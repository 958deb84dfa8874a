"""Driving a running vidhook in tests: send provider callbacks over HTTP and wait, within a
bound, for what they lead to."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

__all__ = [
    "HOOK_PATH",
    "SOURCE_CONFIG",
    "eventually",
    "http_sink",
    "post_callbacks",
    "rule",
    "vibegen_callback",
]

HOOK_PATH = "/hooks/vibegen/tok-1234567890abcdef"

# The source every delivery test receives on; HOOK_PATH is its callback URL.
SOURCE_CONFIG = """
[sources.vibegen]
provider = "vibegen"
tokens = ["tok-1234567890abcdef"]
"""


def http_sink(
    name: str, url: str, schedule: tuple[float, ...] = (0.05, 0.1), **options: Any
) -> str:
    """The TOML table of one http sink with a fast retry schedule."""
    lines = [f"[sinks.{name}]", 'type = "http"', f'url = "{url}"']
    lines.append(f"retry_schedule = {list(schedule)}")
    lines += [f"{key} = {json.dumps(value)}" for key, value in options.items()]
    return "\n".join(lines) + "\n"


def rule(name: str, *sinks: str, when: str = "") -> str:
    """The TOML of one [[rules]] entry."""
    text = f'[[rules]]\nname = "{name}"\nsinks = {json.dumps(list(sinks))}\n'
    return text + (f"when = {when}\n" if when else "")


def vibegen_callback(task_id: str, status: str = "completed") -> bytes:
    """A vibegen callback body for one task, in the provider's documented shape."""
    if status == "completed":
        body: dict[str, object] = {
            "event": "task.completed",
            "task_id": task_id,
            "status": "completed",
            "video_url": f"https://cdn.example.com/videos/{task_id}.mp4",
            "created_at": "2025-03-10T10:00:00Z",
            "completed_at": "2025-03-10T10:02:30Z",
        }
    else:
        body = {
            "event": "task.failed",
            "task_id": task_id,
            "status": "failed",
            "error_message": "Content policy violation",
            "created_at": "2025-03-10T10:00:00Z",
            "failed_at": "2025-03-10T10:00:15Z",
        }
    return json.dumps(body).encode()


async def post_callbacks(
    client: httpx.AsyncClient,
    count: int,
    prefix: str = "task",
    status: str = "completed",
    *,
    at_once: bool = False,
) -> list[str]:
    """Send `count` callbacks for distinct tasks, one after another or all `at_once`; return
    the event ids vidhook acknowledged."""

    async def send(number: int) -> str:
        body = vibegen_callback(f"{prefix}-{number}", status)
        answer = await client.post(HOOK_PATH, content=body)
        assert answer.status_code == 200, answer.text
        event_id: str = answer.json()["id"]
        return event_id

    if at_once:
        return list(await asyncio.gather(*(send(number) for number in range(count))))
    return [await send(number) for number in range(count)]


async def eventually(
    check: Callable[[], bool | Awaitable[bool]], *, within: float = 20.0, step: float = 0.02
) -> None:
    """Wait until `check()` is true; fail if it is still false after `within` seconds (a bound
    that keeps a broken test from hanging, not a performance target)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        result = check()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if loop.time() > deadline:
            raise AssertionError(f"still not true after {within:g} s: {check}")
        await asyncio.sleep(step)
