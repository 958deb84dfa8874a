"""Pausing and resuming a sink by hand, for the admin API and the CLI alike.

A sink paused by hand keeps its deliveries waiting and sends no probes until it is resumed;
resuming (by hand) also lifts an automatic pause and clears the failure count. Both are
logged with who did it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

import structlog

from vidhook.receiver.errors import NotFound
from vidhook.receiver.store import Store

__all__ = ["pause_sink", "resume_sink"]

log = structlog.get_logger("vidhook")


def _check(sink: str, sinks: Collection[str]) -> None:
    if sink not in sinks:
        known = ", ".join(sorted(sinks)) or "none configured"
        raise NotFound(
            f"no sink named {sink[:64]!r}; configured sinks: {known}", code="unknown_sink"
        )


async def pause_sink(
    store: Store, sinks: Collection[str], clock: Callable[[], float], sink: str, actor: str
) -> None:
    """Pause a configured sink by hand; `actor` says who (`token:NAME`, `cli:USER`)."""
    _check(sink, sinks)
    await store.pause_sink(sink, actor, now=clock())
    log.warning("sink paused by hand", sink=sink, by=actor)


async def resume_sink(
    store: Store, sinks: Collection[str], clock: Callable[[], float], sink: str, actor: str
) -> None:
    """Resume a configured sink, however it was paused; its deliveries flow again."""
    _check(sink, sinks)
    await store.resume_sink(sink, now=clock())
    log.warning("sink resumed by hand", sink=sink, by=actor)
