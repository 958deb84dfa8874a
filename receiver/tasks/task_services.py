"""`TaskServices`: what the poller and the confirm worker need of a running vidhook, typed, so
the task loops depend on the intake and the store rather than on the whole app's wiring."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import httpx

from vidhook.receiver.event import Event
from vidhook.receiver.intake import Intake
from vidhook.receiver.metrics import Metrics
from vidhook.receiver.sources import Source
from vidhook.receiver.store import Store
from vidhook.receiver.store.records import Routes

__all__ = ["TaskServices"]


class TaskServices(Protocol):
    """The store, sources, intake, metrics, HTTP client, clock and routing the task loops use."""

    @property
    def store(self) -> Store: ...

    @property
    def sources(self) -> dict[str, Source]: ...

    @property
    def intake(self) -> Intake: ...

    @property
    def metrics(self) -> Metrics: ...

    @property
    def http(self) -> httpx.AsyncClient: ...

    @property
    def clock(self) -> Callable[[], float]: ...

    def route(self, event: Event) -> list[tuple[str, str]]:
        """The (rule, sink) pairs the current rules pick for an event."""
        ...

    def plan(self, event: Event) -> Routes:
        """Where the current rules send an event on ingest: pairs and group joins."""
        ...
