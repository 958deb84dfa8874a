"""`vidhook simulate PROVIDER --status completed|failed`: send a realistic callback to a
running vidhook, signed as the source's config requires."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

import httpx

from vidhook.receiver.cli.config_source import resolve_settings
from vidhook.receiver.cli.connect import logs_to_stderr
from vidhook.receiver.config import PROVIDER_NAMES, Settings
from vidhook.receiver.errors import BadRequest, NotFound, Unreachable
from vidhook.receiver.simulate import SimulatedCallback, simulated_callback
from vidhook.receiver.suggestions import unknown_name

__all__ = ["pick_source", "run_simulate", "send"]


def pick_source(settings: Settings, provider: str, name: str | None) -> str:
    """The source to simulate: the named one, or the only source of that provider."""
    if name is not None:
        config = settings.sources.get(name)
        if config is None or config.provider != provider:
            known = [n for n, c in settings.sources.items() if c.provider == provider]
            raise unknown_name(f"{provider} source", name, known)
        return name
    found = [n for n, config in settings.sources.items() if config.provider == provider]
    if not found:
        listed = ", ".join(f"{n} ({c.provider})" for n, c in settings.sources.items()) or "none"
        raise NotFound(f"no source of provider {provider!r} is configured; sources: {listed}")
    if len(found) > 1:
        raise BadRequest(f"several {provider} sources ({', '.join(found)}); pick one with --source")
    return found[0]


def _warnings(settings: Settings, source: str) -> list[str]:
    config = settings.sources[source]
    notes = []
    if config.allow_ips:
        notes.append("the source has allow_ips: the callback comes from this machine's address")
    if config.confirm:
        notes.append(
            "the source has confirm = true: vidhook re-reads the task from the provider, which"
            " does not know this simulated task, so it is held and not routed"
        )
    return notes


async def send(callback: SimulatedCallback) -> httpx.Response:
    """POST the callback; a connection failure is a clear error, not a traceback."""
    async with httpx.AsyncClient(timeout=10.0) as client:
        try:
            return await client.post(callback.url, content=callback.body, headers=callback.headers)
        except httpx.HTTPError as exc:
            raise Unreachable(f"could not reach vidhook at {callback.url}: {exc}") from None


def run_simulate(args: argparse.Namespace) -> int:
    """Build, sign and send the callback; print vidhook's answer."""
    logs_to_stderr()
    if args.provider not in PROVIDER_NAMES:
        raise unknown_name("provider", args.provider, PROVIDER_NAMES)
    settings, _ = asyncio.run(resolve_settings(args))
    source = pick_source(settings, args.provider, args.source)
    callback = simulated_callback(settings, source, args.status, time.time(), args.url)
    for note in _warnings(settings, source):
        print(f"note: {note}", file=sys.stderr)
    answer = asyncio.run(send(callback))
    shown = callback.url
    if settings.sources[source].tokens:
        shown = shown.rsplit("/", 1)[0] + "/[token]"
    print(f"POST {shown} -> {answer.status_code}")
    print(answer.text)
    return 0 if answer.is_success else 1
