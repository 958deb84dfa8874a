"""What an HTTP handler may ask for: the parts of the running instance, each by name and type.

A handler names the parts it needs as parameters, `store: NamedDependency[Store]`, and
Litestar passes the ones this instance built (`handler_dependencies`, provided once for the
whole app); no handler gets the whole wiring. The names:

    settings          Settings              the loaded config
    store             Store
    sources_by_name   Sources               configured sources by name
    rules             RuleHolder            the rules in force (and their reload)
    sinks_by_name     Sinks                 configured sinks by name
    clock             Clock                 the time, as `time.time` answers it
    metrics           Metrics
    replayer          Replayer              replays over the store, rules and sinks
    http              httpx.AsyncClient     the shared client for provider APIs
    supervisor        Supervisor            the background loops
    outbox            OutboxWorker          the delivery worker
    archive           Archive | None        the archive's store of copies and links (`[archive]`)

No request body may have a top-level field named as a part: Litestar answers a validation
error in such a field with 500 instead of 400 (tests/test_handler_parts.py holds this for
every handler). Litestar checks each value against its parameter's type; a Protocol cannot
be checked at run time, so `Sinks` is checked only by mypy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from litestar.di import Provide

from vidhook.receiver.replay import Replayer
from vidhook.receiver.services import Services
from vidhook.receiver.sources import Source
from vidhook.routes.sinks.base import Sink

__all__ = ["Clock", "Sinks", "Sources", "handler_dependencies"]

Clock = Callable[[], float]
Sources = Mapping[str, Source]
if TYPE_CHECKING:
    Sinks = Mapping[str, Sink]
else:  # what Litestar checks at run time (see the module)
    Sinks = Mapping[str, Any]


def handler_dependencies(services: Services, *, replayer: Replayer) -> dict[str, Provide]:
    """The parts of `services` by the names handlers ask for them (see the module); the
    replayer is the admin API's (`admin.events.replayer`)."""
    parts: dict[str, object] = {
        "settings": services.settings,
        "store": services.store,
        "sources_by_name": services.sources,
        "rules": services.rules,
        "sinks_by_name": services.sinks,
        "clock": services.clock,
        "metrics": services.metrics,
        "replayer": replayer,
        "http": services.http,
        "supervisor": services.supervisor,
        "outbox": services.outbox,
        "archive": services.archive,
    }
    return {name: Provide(_constant(value), sync_to_thread=False) for name, value in parts.items()}


def _constant(value: object) -> Callable[[], object]:
    def provide() -> object:
        return value

    return provide
