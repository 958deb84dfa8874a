"""The straight path every task report walks: normalise, then store with its deliveries."""

from __future__ import annotations

from collections.abc import Callable

import structlog
from prometheus_client import Counter

from vidhook.receiver.event import TaskReport, rfc3339_at
from vidhook.receiver.identifiers import check_task_id
from vidhook.receiver.metrics import Metrics
from vidhook.receiver.normalise import normalise
from vidhook.receiver.sources import Source
from vidhook.receiver.store import Store
from vidhook.receiver.store.records import ArchivePlan, IngestResult, RawRequest, Router

__all__ = ["Intake"]

log = structlog.get_logger("vidhook.intake")


class Intake:
    """Normalises task reports from callbacks and polls and commits them with their outbox
    (and, with an `archive` plan, their archive jobs)."""

    def __init__(
        self,
        store: Store,
        route: Router,
        metrics: Metrics,
        clock: Callable[[], float],
        *,
        archive: ArchivePlan | None = None,
    ) -> None:
        self.store = store
        self.archive = archive
        self.route = route
        self.metrics = metrics
        self.clock = clock
        # Each (source, outcome) counter, looked up once: prometheus_client's labels() checks
        # and locks on every call, about as much as the rest of the counting.
        self._counters: dict[tuple[str, str], Counter] = {}

    async def accept(
        self,
        source: Source,
        report: TaskReport,
        raw: RawRequest,
        verified_by: list[str],
        *,
        hold: bool = False,
    ) -> IngestResult:
        """Commit one report as an event; return once it is durable. A task id no store
        can keep, or no provider URL can hold, is refused (BadRequest) before the store."""
        check_task_id(report.task_id)
        event = normalise(
            report,
            source=source.name,
            provider=source.config.provider,
            received_at=rfc3339_at(self.clock()),
            verified_by=verified_by,
            labels=source.config.labels,
        )
        result = await self.store.ingest(event, raw, self.route, hold=hold, archive=self.archive)
        outcome = "duplicate" if result.duplicate else "stale" if result.stale else "accepted"
        key = (source.name, outcome)
        counter = self._counters.get(key)
        if counter is None:
            counter = self._counters[key] = self.metrics.received.labels(*key)
        counter.inc()
        # Debug, not info: a line per callback costs about a sixth of ingest's CPU, and the
        # `log` sink is how a deployment asks for a line per event.
        log.debug(  # the lazy proxy: a logger bound here would miss a later reconfiguration
            "event stored",
            source=source.name,
            task_id=report.task_id,
            status=report.status,
            event_id=result.event.id,
            outcome=outcome,
            deliveries=result.deliveries,
        )
        return result
