"""The poller: reads the tasks of providers that never call back, and of watched tasks.

Poll state lives in the store (`tasks.poll*`), so polling resumes after a restart. Each
source polls at most `max_polls_in_flight` tasks at once. A poll result walks the same
intake path as a callback, with `verified_by = ["poll"]`. A task is polled at the
provider's `poll_interval_seconds` when it gives one, else the source's `poll_interval`;
after an error or a 429 the wait doubles per failure, with jitter, and honours
`Retry-After`. At `poll_timeout` the task ends in `task.failed` with `error.code = "timeout"`.

The same loop is the safety net of providers that call back: their submitted tasks are due
once their `callback_grace` has passed with no final status (a final callback stops them
first), and after a start every task whose grace ran out meanwhile is simply due, its
queries paced per API key by `ProviderApi`.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable

import structlog

from vidhook.receiver.background import Loop
from vidhook.receiver.errors import RateLimited, UpstreamError, VidhookError
from vidhook.receiver.event import ErrorInfo, TaskReport, is_terminal
from vidhook.receiver.sources import Source
from vidhook.receiver.store.records import RawRequest, TaskRecord
from vidhook.receiver.tasks.provider_api import ProviderApi, can_query
from vidhook.receiver.tasks.task_services import TaskServices

__all__ = ["MAX_BACKOFF", "Poller", "poll_delay"]

# The longest wait between polls after errors, unless the interval itself is longer.
MAX_BACKOFF = 300.0
log = structlog.get_logger("vidhook.poller")


def poll_delay(interval: float, errors: int, retry_after: float | None = None) -> float:
    """Seconds until the next poll after `errors` failures in a row (0: all went well).

    The interval doubles per failure up to MAX_BACKOFF, with +-20 % jitter after a failure so
    that many tasks failing together do not retry together; a provider's `Retry-After` is
    honoured when it asks for longer.
    """
    if errors <= 0:
        return interval
    backoff = min(max(MAX_BACKOFF, interval), interval * 2.0 ** min(errors, 20))
    delay = backoff * random.uniform(0.8, 1.2)
    return max(delay, retry_after) if retry_after is not None else delay


class Poller(Loop):
    """Claims due tasks from the store per source and polls them, each source within its bound."""

    name = "poller"
    failure = "poll claim failed"

    def __init__(
        self,
        services: TaskServices,
        api: ProviderApi,
        *,
        idle_wait: float = 1.0,
        lease: float = 120.0,
    ) -> None:
        super().__init__(idle_wait, grace=5.0)
        self.services = services
        self.api = api
        self.lease = lease
        self._inflight: dict[str, dict[asyncio.Task[None], TaskRecord]] = {}

    def start(self) -> None:
        """Start the claim loop."""
        for source in self.services.sources.values():
            if can_query(source):
                continue
            if source.provider.calls_back:
                log.info(
                    "a lost callback of this source cannot be recovered: set its api_key (and"
                    " base_url if the provider has no default)", source=source.name,
                )  # fmt: skip
            else:
                log.warning(
                    "source is never polled: set its api_key (and base_url if the provider"
                    " has no default)", source=source.name,
                )  # fmt: skip
        super().start()

    async def drain(self, grace: float) -> None:
        """Give running polls `grace` seconds, then cancel them and make their tasks due
        again, so the next start polls them at once."""
        running = {t: rec for polls in self._inflight.values() for t, rec in polls.items()}
        if not running:
            return
        _, unfinished = await asyncio.wait(running, timeout=grace)
        for task in unfinished:
            task.cancel()
        await asyncio.gather(*unfinished, return_exceptions=True)
        for task in unfinished:
            record = running[task]
            with contextlib.suppress(Exception):
                await self.services.store.set_poll(
                    record.source, record.task_id, next_at=self.services.clock(),
                    errors=record.poll_errors,
                )  # fmt: skip

    async def run_once(self) -> float:
        """Claim and poll due tasks; go on at once while there were some."""
        claimed = await self._claim_all()
        return 0.0 if claimed else await self._idle_delay()

    async def _claim_all(self) -> int:
        claimed = 0
        for source in self.services.sources.values():
            if not can_query(source):
                continue
            polls = self._inflight.setdefault(source.name, {})
            free = source.config.max_polls_in_flight - len(polls)
            if free <= 0:
                continue
            now = self.services.clock()
            for record in await self.services.store.claim_polls(source.name, now, self.lease, free):
                task = asyncio.create_task(self._poll(source, record))
                polls[task] = record
                task.add_done_callback(self._done(polls))
                claimed += 1
        return claimed

    def _done(
        self, polls: dict[asyncio.Task[None], TaskRecord]
    ) -> Callable[[asyncio.Task[None]], None]:
        def callback(task: asyncio.Task[None]) -> None:
            polls.pop(task, None)
            self._wake.set()

        return callback

    async def _idle_delay(self) -> float:
        due = await self.services.store.next_poll_at()
        now = self.services.clock()
        # A task due now that was not claimed waits for a free slot, which wakes the loop.
        if due is None or due <= now:
            return self.idle_wait
        return min(self.idle_wait, due - now)

    async def _poll(self, source: Source, record: TaskRecord) -> None:
        """Ask the provider once; a task past its deadline and still not ended times out
        (after that last look, so a task that ended while vidhook was down is not lost)."""
        deadline = record.poll_deadline if record.poll_deadline is not None else float("inf")
        report = None
        try:
            report = await self._ask(source, record)
        except Exception as exc:
            if self.services.clock() < deadline:
                await self._failed(source, record, exc, deadline)
                return
        try:
            await self._next(source, record, report, deadline)
        except Exception as exc:  # the store failed; the task is polled again
            await self._failed(source, record, exc, deadline)

    async def _ask(self, source: Source, record: TaskRecord) -> TaskReport:
        queried = await self.api.query(source, record.task_id)
        if queried.report.task_id != record.task_id:
            raise UpstreamError(
                f"{source.config.provider} answered about task {queried.report.task_id!r}"
                f" when asked for {record.task_id!r}",
                status_code=502,
                code="provider_error",
            )
        result = await self.services.intake.accept(source, queried.report, queried.raw, ["poll"])
        self.services.metrics.polls.labels(source.name, "ok").inc()
        if _overdue(source, record, self.services.clock()) and not (
            result.duplicate or result.stale
        ):
            self.services.metrics.safety_net_events.labels(source.name).inc()
            log.info(
                "polling found what no callback brought", source=source.name,
                task_id=record.task_id, status=queried.report.status, event_id=result.event.id,
            )  # fmt: skip
        return queried.report

    async def _next(
        self, source: Source, record: TaskRecord, report: TaskReport | None, deadline: float
    ) -> None:
        store, now = self.services.store, self.services.clock()
        if report is not None and is_terminal(report.status):
            await store.set_poll(source.name, record.task_id, next_at=None, errors=0)
        elif now >= deadline:
            await self._time_out(source, record)
        else:
            interval = (
                (report.poll_interval if report else None)
                or record.poll_interval
                or source.config.poll_interval
            )
            await store.set_poll(
                source.name, record.task_id, next_at=min(now + interval, deadline), errors=0,
                interval=interval,
            )  # fmt: skip

    async def _failed(
        self, source: Source, record: TaskRecord, exc: Exception, deadline: float
    ) -> None:
        errors = record.poll_errors + 1
        interval = record.poll_interval or source.config.poll_interval
        retry_after = exc.retry_after if isinstance(exc, RateLimited) else None
        delay = poll_delay(interval, errors, retry_after)
        outcome = "rate_limited" if isinstance(exc, RateLimited) else "error"
        self.services.metrics.polls.labels(source.name, outcome).inc()
        # A vidhook error is the provider's or the store's doing; anything else is a bug here.
        report = log.warning if isinstance(exc, VidhookError) else log.exception
        message = exc.message if isinstance(exc, VidhookError) else repr(exc)
        report(
            "poll failed", source=source.name, task_id=record.task_id, error=message,
            errors=errors, retry_in=round(delay, 2),
        )  # fmt: skip
        next_at = min(self.services.clock() + delay, deadline)
        with contextlib.suppress(Exception):  # if the store is down, the claim lease expires
            await self.services.store.set_poll(
                source.name, record.task_id, next_at=next_at, errors=errors
            )

    async def _time_out(self, source: Source, record: TaskRecord) -> None:
        timeout = source.config.poll_timeout
        report = TaskReport(
            task_id=record.task_id,
            status="failed",
            provider_status="timeout",
            error=ErrorInfo(
                code="timeout",
                message=f"{source.config.provider} reported no final status within {timeout:g} s",
            ),
        )
        raw = RawRequest(method="TIMEOUT", path="", client="vidhook", headers={}, body=b"")
        await self.services.intake.accept(source, report, raw, ["poll"])
        await self.services.store.set_poll(
            source.name, record.task_id, next_at=None, errors=record.poll_errors
        )
        self.services.metrics.polls.labels(source.name, "timeout").inc()
        log.warning("task timed out", source=source.name, task_id=record.task_id)


def _overdue(source: Source, record: TaskRecord, now: float) -> bool:
    """Whether this poll is the safety net's: the provider calls back, and the task's final
    callback is past its grace."""
    grace_until = record.grace_until
    return source.provider.calls_back and grace_until is not None and now >= grace_until
