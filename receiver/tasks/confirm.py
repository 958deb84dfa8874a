"""Confirming callbacks with the provider (`confirm = true`).

Such a callback is stored and acknowledged at once, its deliveries held. This worker then
reads the task from the provider's query endpoint with the source's key:

- the provider agrees (same task, same status): the event takes the provider's own account
  of the task (status word, video URLs, error, model, times, progress, credits), is routed
  by it, and its `verified_by` gains `provider-api`. Nothing but the task id and status of
  the callback reaches a sink: the callback only tells vidhook when to ask;
- the provider already reports a later status than a progress callback: the callback is
  superseded, kept unsent, and the provider's answer is stored as an event of its own;
- anything else contradicts the callback: it is kept, marked rejected with the reason, never
  sent, and the provider's answer is stored instead.

A provider that cannot be asked (down, 5xx, 429, a wrong key) is asked again with backoff
until the source's `poll_timeout` has passed since the callback; then the callback is
rejected as unconfirmed. A provider that does not know the task (404) contradicts it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Literal

import msgspec
import structlog

from vidhook.receiver.background import Loop
from vidhook.receiver.errors import RateLimited, UpstreamError, VidhookError
from vidhook.receiver.event import STATUS_RANK, Event, TaskReport, is_terminal
from vidhook.receiver.normalise import normalise
from vidhook.receiver.sources import Source
from vidhook.receiver.store.records import StoredEvent
from vidhook.receiver.tasks.poller import poll_delay
from vidhook.receiver.tasks.provider_api import ProviderApi, Queried, can_query
from vidhook.receiver.tasks.task_services import TaskServices

__all__ = ["ConfirmWorker", "Verdict", "confirmed", "judge"]

PROVIDER_API = "provider-api"
log = structlog.get_logger("vidhook.confirm")


class Verdict(msgspec.Struct, frozen=True):
    """What the provider's answer says of a held callback, and why."""

    outcome: Literal["agree", "superseded", "contradicted"]
    reason: str


def judge(event: Event, report: TaskReport) -> Verdict:
    """Compare a held callback's event with the provider's own report of the task."""
    if report.task_id != event.task_id:
        return Verdict(
            "contradicted",
            f"rejected: asked about task {event.task_id!r}, the provider answered about"
            f" {report.task_id!r}",
        )
    if report.status == event.status:
        return Verdict("agree", "the provider reports the same status")
    said = f"{event.status} ({event.provider_status!r})"
    reports = f"{report.status} ({report.provider_status!r})"
    if not is_terminal(event.status) and STATUS_RANK[report.status] > STATUS_RANK[event.status]:
        return Verdict(
            "superseded", f"superseded: the callback said {said}; the provider already reports"
            f" {reports}",
        )  # fmt: skip
    return Verdict(
        "contradicted",
        f"rejected: the callback said {said}; the provider reports {reports} for task"
        f" {event.task_id!r}",
    )


def confirmed(held: Event, report: TaskReport) -> Event:
    """The held event as the provider tells it: its id, source, labels and receipt time,
    and everything else from the provider's report; `verified_by` gains `provider-api`."""
    told = normalise(
        report,
        source=held.source,
        provider=held.provider,
        received_at=held.received_at,
        verified_by=list(dict.fromkeys([*held.verified_by, PROVIDER_API])),
        labels=held.labels,
    )
    return msgspec.structs.replace(told, id=held.id)


class ConfirmWorker(Loop):
    """Finds events held for confirmation and settles each with the provider's answer."""

    name = "confirm"
    failure = "could not list held events"

    def __init__(
        self,
        services: TaskServices,
        api: ProviderApi,
        *,
        idle_wait: float = 1.0,
        batch: int = 200,
    ) -> None:
        super().__init__(idle_wait, grace=5.0)
        self.services = services
        self.api = api
        self.batch = batch
        # Event id -> (when to ask again, failures so far); lost on restart, which only
        # means asking once more at once.
        self._retry: dict[str, tuple[float, int]] = {}
        self._inflight: dict[str, asyncio.Task[None]] = {}

    async def drain(self, grace: float) -> None:
        """Confirmations still running after `grace` seconds are cancelled and their events
        stay held, to be confirmed after the next start."""
        running = list(self._inflight.values())
        if running:
            _, unfinished = await asyncio.wait(running, timeout=grace)
            for task in unfinished:
                task.cancel()
            await asyncio.gather(*unfinished, return_exceptions=True)

    async def run_once(self) -> float:
        """Start confirming the held events that are due."""
        await self._scan()
        return self.idle_wait

    async def _scan(self) -> None:
        held = await self.services.store.held_events(self.batch)
        ids = {stored.event.id for stored in held}
        self._retry = {k: v for k, v in self._retry.items() if k in ids}
        now = self.services.clock()
        for stored in held:
            event = stored.event
            source = self.services.sources.get(event.source)
            if source is None or not can_query(source) or event.id in self._inflight:
                continue
            if self._retry.get(event.id, (0.0, 0))[0] > now:
                continue
            task = asyncio.create_task(self._confirm(source, stored))
            self._inflight[event.id] = task
            task.add_done_callback(self._done(event.id))

    def _done(self, event_id: str) -> Callable[[asyncio.Task[None]], None]:
        def callback(_: asyncio.Task[None]) -> None:
            self._inflight.pop(event_id, None)

        return callback

    async def _confirm(self, source: Source, stored: StoredEvent) -> None:
        try:
            await self._confirm_once(source, stored.event)
        except Exception as exc:  # the store failed mid-way: the event stays held, ask again
            log.exception("confirmation failed", event_id=stored.event.id, error=repr(exc))
            self._retry[stored.event.id] = (self.services.clock() + self.idle_wait * 5, 0)

    async def _confirm_once(self, source: Source, event: Event) -> None:
        try:
            queried = await self.api.query(source, event.task_id)
        except UpstreamError as exc:
            if exc.status_code == 404:
                await self._settle(source, event, None, f"rejected: {exc.message}", "contradicted")
            else:
                await self._unanswered(source, event, exc)
            return
        except VidhookError as exc:
            await self._unanswered(source, event, exc)
            return
        verdict = judge(event, queried.report)
        if verdict.outcome == "agree":
            told = confirmed(event, queried.report)
            plan = self.services.intake.archive
            released = await self.services.store.release_held(told, self.services.plan(told), plan)
            self.services.metrics.confirms.labels(source.name, "confirmed").inc()
            log.info("callback confirmed", event_id=event.id, deliveries=released)
        else:
            await self._settle(source, event, queried, verdict.reason, "contradicted")

    async def _settle(
        self,
        source: Source,
        event: Event,
        queried: Queried | None,
        note: str,
        outcome: Literal["contradicted", "unconfirmed"],
    ) -> None:
        """Keep the callback unsent with `note`; store what the provider said instead."""
        store = self.services.store
        if not await store.reject_held(event.id, note, now=self.services.clock()):
            return
        self.services.metrics.confirms.labels(source.name, outcome).inc()
        log.warning("callback not confirmed", event_id=event.id, source=source.name, note=note)
        if queried is not None:
            await self.services.intake.accept(source, queried.report, queried.raw, [PROVIDER_API])

    async def _unanswered(self, source: Source, event: Event, exc: VidhookError) -> None:
        message = exc.message
        received = datetime.fromisoformat(event.received_at.replace("Z", "+00:00")).timestamp()
        now = self.services.clock()
        if now - received >= source.config.poll_timeout:
            waited = source.config.poll_timeout
            note = f"rejected: could not confirm with the provider within {waited:g} s: {message}"
            await self._settle(source, event, None, note, "unconfirmed")
            return
        failures = self._retry.get(event.id, (0.0, 0))[1] + 1
        retry_after = exc.retry_after if isinstance(exc, RateLimited) else None
        delay = poll_delay(source.config.poll_interval, failures, retry_after)
        self._retry[event.id] = (now + delay, failures)
        log.warning(
            "could not confirm yet", event_id=event.id, source=source.name, error=message,
            retry_in=round(delay, 2),
        )  # fmt: skip
