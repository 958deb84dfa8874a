"""The digest loop: fires each `[[digests]]` entry on its schedule, once.

Each digest's last period end (`last_until`) is in the store. A digest is due when its schedule
names a time after that end and not after now; the loop then takes the digest's lease (so on
PostgreSQL one instance runs it), covers [last_until, F) where F is the latest scheduled time
not after now (after downtime, one digest covers the whole gap), and records the report, its
deliveries (one per sink, through the outbox) and the new `last_until` in one commit: a restart
neither resends nor skips it. A digest that never ran starts counting from the loop's first
round. A period in which no event matched sends nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from vidhook.receiver.background import Loop
from vidhook.receiver.digest_config import DigestConfig, next_fire
from vidhook.receiver.digest_report import DigestReport
from vidhook.receiver.digests import Matcher, compute_digest
from vidhook.receiver.errors import ConfigError
from vidhook.receiver.event import rfc3339_at
from vidhook.receiver.metrics import Metrics
from vidhook.receiver.pricing import PricingConfig
from vidhook.receiver.store import Store
from vidhook.routes.filter import compile_filter
from vidhook.routes.worker import worker_owner

__all__ = ["DigestLoop", "PlannedDigest", "plan_digests", "run_digest_now"]

log = structlog.get_logger("vidhook.digests")

LEASE = 300.0  # seconds one instance may take to compute and record a digest
MAX_WAIT = 60.0  # a round at least this often, so a changed clock or config is seen


@dataclass(frozen=True)
class PlannedDigest:
    """A configured digest with its `when` filter compiled."""

    config: DigestConfig
    match: Matcher | None


# The sink types that can send a digest (see `vidhook.routes.digest_render`).
DIGEST_SINK_TYPES = ("slack", "email", "http", "log", "file")


def plan_digests(
    digests: Sequence[DigestConfig], sinks: Mapping[str, Mapping[str, Any]]
) -> list[PlannedDigest]:
    """The digests ready to run; ConfigError names a duplicate name, an unknown sink, a sink
    type that cannot send a digest, or a bad `when` filter. `sinks` are the `[sinks]` tables."""
    planned, seen = [], set()
    for index, digest in enumerate(digests):
        where = f"digests[{index}] ({digest.name})"
        if digest.name in seen:
            raise ConfigError(f"{where}: another digest has this name")
        seen.add(digest.name)
        unknown = [s for s in digest.sinks if s not in sinks]
        if unknown:
            raise ConfigError(f"{where}.sinks: no sink named {', '.join(map(repr, unknown))}")
        for sink in digest.sinks:
            if sinks[sink].get("type") not in DIGEST_SINK_TYPES:
                raise ConfigError(
                    f"{where}.sinks: {sink!r} is of type {sinks[sink].get('type')}; digests go"
                    f" to {', '.join(DIGEST_SINK_TYPES)} sinks"
                )
        match = None
        if digest.when is not None:
            match = compile_filter(digest.when, where=f"{where}.when").matches
        planned.append(PlannedDigest(digest, match))
    return planned


def _latest_fire(digest: DigestConfig, after: float, now: float) -> float | None:
    """The latest scheduled time in (after, now], or None when there is none."""
    found = None
    moment = next_fire(digest, after)
    while moment <= now:
        found = moment
        moment = next_fire(digest, moment)
    return found


class DigestLoop(Loop):
    """Fires every digest when its schedule says; see the module's docstring."""

    name = "digests"
    failure = "digest round failed"

    def __init__(
        self,
        store: Store,
        digests: Sequence[PlannedDigest],
        pricing: PricingConfig,
        clock: Callable[[], float],
        metrics: Metrics | None = None,
    ) -> None:
        super().__init__(idle_wait=10.0)
        self.metrics = metrics
        self.store = store
        self.digests = list(digests)
        self.pricing = pricing
        self.clock = clock
        self.owner = worker_owner()
        self.sent: list[str] = []  # the ids of the digests this loop recorded

    async def run_once(self) -> float:
        now = self.clock()
        wait = MAX_WAIT
        for planned in self.digests:
            last = await self.store.digest_last_run(planned.config.name)
            if last is None or _latest_fire(planned.config, last, now) is not None:
                await self._fire(planned, now)
                last = await self.store.digest_last_run(planned.config.name)
            if last is not None:
                wait = min(wait, next_fire(planned.config, max(last, now)) - now)
        return max(wait, 0.5)

    async def _fire(self, planned: PlannedDigest, now: float) -> None:
        name = planned.config.name
        claimed, last = await self.store.claim_digest(name, self.owner, now, LEASE)
        if not claimed:
            return  # another instance is running it
        if last is None:  # never ran: count from now on, send nothing
            await self.store.start_digest(name, self.owner, now)
            return
        until = _latest_fire(planned.config, last, now)
        if until is None:  # another instance ran it meanwhile
            await self.store.release_digest(name, self.owner)
            return
        report, anchor = await compute_digest(
            self.store, planned.config, planned.match, self.pricing,
            since=rfc3339_at(last), until=rfc3339_at(until),
        )  # fmt: skip
        digest_id = await self.store.record_digest(
            report, owner=self.owner, until=until, sinks=planned.config.sinks, anchor=anchor,
            now=now,
        )  # fmt: skip
        if digest_id is not None:
            self.sent.append(digest_id)
            if self.metrics is not None:
                self.metrics.digests.labels(digest=name).inc()
            log.info("digest recorded", digest=name, groups=len(report.groups), sent=bool(anchor))


async def run_digest_now(
    store: Store,
    planned: PlannedDigest,
    pricing: PricingConfig,
    *,
    now: float,
    default_since: float,
    send: bool,
) -> tuple[DigestReport, str | None]:
    """Compute a digest for [its last period end (or `default_since`), now); with `send`, record
    it and queue its deliveries as a scheduled run does (the next one then starts from now).
    Answers the report and, when it was queued, its id."""
    owner = worker_owner()
    if send:
        claimed, last = await store.claim_digest(planned.config.name, owner, now, LEASE)
        if not claimed:
            raise ConfigError(f"digest {planned.config.name!r} is being run by another instance")
    else:
        last = await store.digest_last_run(planned.config.name)
    since = default_since if last is None else last
    report, anchor = await compute_digest(
        store, planned.config, planned.match, pricing, since=rfc3339_at(since),
        until=rfc3339_at(now),
    )  # fmt: skip
    if not send:
        return report, None
    digest_id = await store.record_digest(
        report, owner=owner, until=now, sinks=planned.config.sinks, anchor=anchor, now=now
    )
    return report, digest_id
