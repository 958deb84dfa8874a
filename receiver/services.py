"""Everything a running vidhook shares: settings, store, sources, rules, sinks, and the
supervisor of its background loops."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import msgspec
import structlog

from vidhook.receiver.archive_setup import Archive, build_archive
from vidhook.receiver.background import Supervisor
from vidhook.receiver.config import Settings
from vidhook.receiver.digest_loop import DigestLoop, plan_digests
from vidhook.receiver.errors import ConfigError
from vidhook.receiver.event import Event, rfc3339_at
from vidhook.receiver.intake import Intake
from vidhook.receiver.metrics import Metrics
from vidhook.receiver.retention import RetentionTask
from vidhook.receiver.sources import Source
from vidhook.receiver.store import Store
from vidhook.receiver.store.records import Rejection, Routes
from vidhook.receiver.tasks import task_workers
from vidhook.routes.group_flusher import GroupFlusher
from vidhook.routes.rules import RuleHolder
from vidhook.routes.sinks.base import Sink
from vidhook.routes.worker import OutboxWorker

__all__ = ["Services"]

_encoder = msgspec.json.Encoder()
log = structlog.get_logger("vidhook")


@dataclass
class Services:
    """The wiring of one vidhook instance, built once by `build_services`.

    Its background loops are built here from the same parts, and run by `supervisor` between
    the store's open and close (the app's lifespan): the store's own loops first (its writer
    or listener, the supervisor's `base`), then the outbox worker, the group flusher and the
    task loops that feed it, the archive worker (with `[archive]`), the digest loop, then
    retention; they stop
    in reverse order, the store's last.
    """

    settings: Settings
    store: Store
    sources: dict[str, Source]
    rules: RuleHolder
    http: httpx.AsyncClient
    sinks: dict[str, Sink]
    clock: Callable[[], float] = time.time
    metrics: Metrics = field(default_factory=Metrics)
    config_path: str | None = None
    intake: Intake = field(init=False)
    outbox: OutboxWorker = field(init=False)
    archive: Archive | None = field(init=False)
    digests: DigestLoop = field(init=False)
    supervisor: Supervisor = field(init=False)

    def __post_init__(self) -> None:
        self.archive = None
        if self.settings.archive is not None:
            self.archive = build_archive(
                self.settings.archive,
                self.store,
                public_url=self.settings.server.public_url,
                metrics=self.metrics,
                clock=self.clock,
            )
        keep = None if self.archive is None else self.archive.plan
        self.intake = Intake(self.store, self.plan, self.metrics, self.clock, archive=keep)
        self.outbox = OutboxWorker(self.store, self.sinks, self.metrics, self.clock)
        retention = RetentionTask(self.store, self.settings.store.retention_days, self.clock)
        flusher = GroupFlusher(self.store, self.metrics, self.clock)
        archiving = [] if self.archive is None else [self.archive.worker]
        digests = plan_digests(self.settings.digests, self.settings.sinks)
        pricing = self.settings.pricing
        self.digests = DigestLoop(self.store, digests, pricing, self.clock, self.metrics)
        loops = [self.outbox, flusher, *task_workers(self), *archiving, self.digests, retention]
        self.supervisor = Supervisor(loops, base=self.store.loops)

    def route(self, event: Event) -> list[tuple[str, str]]:
        """The (rule, sink) pairs the current rules pick for an event."""
        return self.rules.current.route(event)

    def plan(self, event: Event) -> Routes:
        """Where the current rules send an event on ingest: (rule, sink) pairs and group joins."""
        return self.rules.current.plan(event)

    def now_text(self) -> str:
        """The clock's time as RFC 3339 UTC."""
        return rfc3339_at(self.clock())

    def encode(self, value: Any) -> bytes:
        """JSON-encode a value."""
        return _encoder.encode(value)

    def reload_rules(self) -> None:
        """Reload the rules (SIGHUP); an invalid file is logged and the running rules stay."""
        try:
            fresh = self.rules.reload()
        except ConfigError as exc:
            log.error("rules not reloaded; the running rules stay", error=exc.message)
            return
        log.info("rules reloaded", rules=len(fresh))

    async def record_rejection(self, rejection: Rejection, keep: int) -> None:
        """Keep a refused request in the bounded log; never fail the caller over it."""
        try:
            await self.store.record_rejection(rejection, keep)
        except Exception as exc:  # the rejection log is best effort
            log.warning("could not log rejection", error=str(exc))
