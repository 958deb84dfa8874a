"""`vidhook submit` and `vidhook watch`: create a task through vidhook, or have it polled.

Both work on the configured store directly, as the other commands do; a running vidhook on
the same store picks the task up (polls it, or routes its callbacks with its labels).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import msgspec

from vidhook.receiver.cli.config_source import (
    config_path,
    open_configured_store,
    resolve_settings,
)
from vidhook.receiver.config import Settings
from vidhook.receiver.errors import BadRequest
from vidhook.receiver.sources import Source, build_sources
from vidhook.receiver.store import Store
from vidhook.receiver.suggestions import unknown_name
from vidhook.receiver.tasks.provider_api import ProviderApi
from vidhook.receiver.tasks.submit import SubmitRequest, submit_task, task_labels, watch_task

__all__ = ["run_submit", "run_watch"]

T = TypeVar("T")
_encoder = msgspec.json.Encoder()


def run_submit(args: argparse.Namespace) -> int:
    """Create the task and print vidhook's record of it with the provider's reply."""
    body = _read_body(args.file)
    request = SubmitRequest(body=body, end_user_id=args.end_user_id, labels=_labels(args.label))

    async def submit(settings: Settings, source: Source, store: Store) -> bytes:
        async with httpx.AsyncClient(timeout=httpx.Timeout(30.0)) as http:
            submitted = await submit_task(
                source,
                request,
                settings=settings,
                store=store,
                api=ProviderApi(http),
                now=time.time(),
            )
        return _encoder.encode(submitted)

    print(asyncio.run(_with_store(args, submit)).decode())
    return 0


def run_watch(args: argparse.Namespace) -> int:
    """Register the task for polling and print vidhook's record of it."""
    labels = task_labels(args.end_user_id, _labels(args.label))

    async def watch(settings: Settings, source: Source, store: Store) -> bytes:
        task = await watch_task(source, args.task_id, labels, store=store, now=time.time())
        return _encoder.encode(task)

    print(asyncio.run(_with_store(args, watch)).decode())
    return 0


async def _with_store(
    args: argparse.Namespace, work: Callable[[Settings, Source, Store], Awaitable[T]]
) -> T:
    settings, _ = await resolve_settings(args)
    sources = build_sources(settings)
    source = sources.get(args.source)
    if source is None:
        raise unknown_name("source", args.source, sources)
    store = open_configured_store(settings, config_path(args))
    await store.open()
    try:
        return await work(settings, source, store)
    finally:
        await store.close()


def _read_body(name: str) -> dict[str, Any]:
    try:
        text = sys.stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8")
    except OSError as exc:
        raise BadRequest(f"{name}: cannot read: {exc.strerror}") from None
    try:
        body = msgspec.json.decode(text)
    except msgspec.DecodeError as exc:
        raise BadRequest(f"{name}: not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise BadRequest(f"{name}: the create body must be a JSON object")
    return body


def _labels(pairs: list[str]) -> dict[str, str]:
    labels = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise BadRequest(f"--label {pair!r}: write it as KEY=VALUE")
        labels[key] = value
    return labels
