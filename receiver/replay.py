"""Replays: new deliveries of stored events, marked `replay`, each with a new webhook id.

A replay goes through the rules in force now, unless sinks are named. Bulk replays walk the
matching events newest first in pages, write each page's deliveries in one commit, and refuse
a filter that matches more events than one call may touch.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable, Collection

import msgspec

from vidhook.receiver.errors import BadRequest, Conflict, NotFound
from vidhook.receiver.event import Event
from vidhook.receiver.media_links import MediaLinks
from vidhook.receiver.store import Store
from vidhook.receiver.store.records import DeliveryRow, EventFilter, StoredEvent
from vidhook.routes.rules import RuleHolder

__all__ = ["DEFAULT_MAX_EVENTS", "ReplayResult", "Replayer", "event_pages"]

DEFAULT_MAX_EVENTS = 10_000
PAGE = 500

Pairs = list[tuple[str | None, str]]
Progress = Callable[[int, int], None]


async def event_pages(
    store: Store, where: EventFilter, total: int, page_size: int = PAGE
) -> AsyncIterator[list[StoredEvent]]:
    """The events matching `where` in pages, newest first, at most `total` in all."""
    cursor = where.before_id
    left = total
    while left > 0:
        page = await store.list_events(
            msgspec.structs.replace(where, before_id=cursor), min(page_size, left)
        )
        if not page:
            return
        yield page
        left -= len(page)
        cursor = page[-1].event.id


class ReplayResult(msgspec.Struct, kw_only=True):
    """What a bulk replay did (or, with `dry_run`, would do).

    Events held for confirmation, events the provider contradicted on confirmation (rejected:
    forged or superseded callbacks, which must never reach a sink) and stale events (arrived after
    a later status, never routed) are left out of bulk replays and counted here.
    """

    dry_run: bool
    events: int
    deliveries: int
    by_sink: dict[str, int]
    skipped_held: int = 0
    skipped_rejected: int = 0
    skipped_stale: int = 0


class Replayer:
    """Makes replay deliveries for stored events, through the current rules or to named sinks."""

    def __init__(
        self,
        store: Store,
        rules: RuleHolder,
        sinks: Collection[str],
        clock: Callable[[], float],
        max_events: int = DEFAULT_MAX_EVENTS,
        links: MediaLinks | None = None,
    ) -> None:
        self.store = store
        self.links = links
        self.rules = rules
        self.sinks = sinks
        self.clock = clock
        self.max_events = max_events

    def check_sinks(self, sinks: list[str] | None) -> None:
        """Refuse sink names that are not configured, listing those that are."""
        unknown = [name for name in sinks or [] if name not in self.sinks]
        if unknown:
            known = ", ".join(sorted(self.sinks)) or "none configured"
            raise BadRequest(
                f"unknown sink {unknown[0][:64]!r}; configured sinks: {known}", code="unknown_sink"
            )
        if sinks is not None and not sinks:
            raise BadRequest("sinks: name at least one sink, or leave it out to use the rules")

    def pairs(self, event: Event, sinks: list[str] | None) -> Pairs:
        """(rule, sink) pairs for one event: the rules' choice, or the named sinks."""
        if sinks:
            return [(None, name) for name in dict.fromkeys(sinks)]
        return list(self.rules.current.route(event))

    async def replay_event(self, event_id: str, sinks: list[str] | None) -> list[DeliveryRow]:
        """Replay one event; return the deliveries made."""
        self.check_sinks(sinks)
        stored = await self.store.get_event(event_id)
        if stored is None:
            raise NotFound(f"no event with id {event_id[:64]!r}", code="unknown_event")
        if stored.held:
            raise Conflict(
                f"event {event_id} is held until its task is confirmed with the provider;"
                " it cannot be replayed yet",
                code="event_held",
            )
        if stored.note is not None:
            # A rejected callback may be forged; sending it now would undo the confirmation.
            raise Conflict(
                f"event {event_id} was rejected when confirmed with the provider ({stored.note});"
                " it is kept for inspection and never replayed",
                code="event_rejected",
            )
        pairs = self.pairs(stored.event, sinks)
        await self._relink([stored])
        ids = await self.store.add_deliveries(event_id, pairs, replay=True, now=self.clock())
        made = set(ids)
        return [row for row in await self.store.deliveries_of(event_id) if row.id in made]

    async def replay(
        self,
        where: EventFilter,
        sinks: list[str] | None,
        *,
        dry_run: bool = False,
        progress: Progress | None = None,
    ) -> ReplayResult:
        """Replay every event matching `where` (a dry run only counts)."""
        self.check_sinks(sinks)
        total = await self.store.count_events(where)
        if total > self.max_events:
            raise BadRequest(
                f"the filter matches {total} events, more than the {self.max_events} one replay"
                " may touch; narrow it (since/until, source, status, ...) and replay in parts",
                code="replay_too_large",
            )
        result = ReplayResult(dry_run=dry_run, events=0, deliveries=0, by_sink={})
        by_sink: Counter[str] = Counter()
        seen = 0
        async for page in event_pages(self.store, where, total):
            plan = [(s.event.id, self.pairs(s.event, sinks)) for s in self._eligible(page, result)]
            for _, pairs in plan:
                by_sink.update(sink for _, sink in pairs)
            if not dry_run:
                await self._relink(page)
                await self.store.add_deliveries_many(plan, replay=True, now=self.clock())
            result.events += len(plan)
            result.deliveries += sum(len(pairs) for _, pairs in plan)
            seen += len(page)
            if progress is not None:
                progress(seen, total)
        result.by_sink = dict(sorted(by_sink.items()))
        return result

    async def _relink(self, events: list[StoredEvent]) -> None:
        """Sign the archived links of the events afresh, so a replay carries links that work
        for a full `link_expiry` again."""
        if self.links is None:
            return
        linker = None
        for stored in events:
            if stored.event.archived_urls and not stored.held and stored.note is None:
                linker = linker or await self.links.linker()
                await self.store.relink(stored.event.id, linker)

    @staticmethod
    def _eligible(page: list[StoredEvent], result: ReplayResult) -> list[StoredEvent]:
        eligible = []
        for stored in page:
            if stored.held:
                result.skipped_held += 1
            elif stored.note is not None:
                result.skipped_rejected += 1
            elif stored.stale:
                result.skipped_stale += 1
            else:
                eligible.append(stored)
        return eligible
