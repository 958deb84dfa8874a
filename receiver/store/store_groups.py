"""The store's groups: events a rule batches for a sink wait in a durable group until the
group flusher turns the group into one delivery (see migrations/*_0006_groups.sql)."""

from __future__ import annotations

import msgspec

from vidhook.receiver.event import new_id, rfc3339_at
from vidhook.receiver.store import rows
from vidhook.receiver.store.connector import WAKE, Script, execute, fetch_all
from vidhook.receiver.store.records import GroupBatch
from vidhook.receiver.store.store_reads import StoreReads

__all__ = ["Flushed", "StoreGroups", "flush_due"]

_decode_key = msgspec.json.Decoder(list[tuple[str, str]]).decode


class Flushed(msgspec.Struct, frozen=True):
    """A group just turned into its delivery: the sink and how many events it holds."""

    sink: str
    size: int


def flush_due(now: float, limit: int) -> Script[list[Flushed]]:
    """Take up to `limit` open groups due at `now` (locked, on PostgreSQL skipping those another
    transaction holds) and turn each into one pending delivery, in the same transaction."""
    due = yield fetch_all("due_groups", now=now, limit=limit)
    if not due:
        return []
    plan = []
    for row in due:
        did = new_id()
        plan.append({"group_id": row["id"], "id": did, "webhook_id": f"msg_{did.replace('-', '')}"})
    yield execute("flush_groups", plan=rows.encode(plan).decode(), moment=now, now=rfc3339_at(now))
    yield WAKE
    return [Flushed(row["sink"], int(row["size"])) for row in due]


class StoreGroups(StoreReads):
    """The grouping side of `Store`, over the same connector.

    An event joins its groups in `ingest`; `flush_groups` turns due groups into deliveries;
    `group_batch` is what a group's delivery sends; `group_counts` counts open groups and says
    when the next one is due.
    """

    async def flush_groups(self, now: float, limit: int = 100) -> list[Flushed]:
        """Turn up to `limit` groups due at `now` into one delivery each, in one commit."""
        return await self.connector.transaction(lambda: flush_due(now, limit))

    async def group_batch(self, group_id: str, first: int = 5) -> GroupBatch | None:
        """A group as its delivery sends it, with its `first` events; None if it is gone."""
        row = await self._one("group_batch", id=group_id)
        if row is None:
            return None
        found = await self._all("group_events", id=group_id, limit=first)
        return GroupBatch(
            id=row["id"],
            rule=row["rule"],
            key=_decode_key(row["group_key"]),
            count=int(row["count"]),
            events=[rows.decode_event(r["body"]) for r in found],
            since=row["since"] or "",
            until=row["until"] or "",
        )

    async def group_counts(self) -> tuple[int, float | None]:
        """How many groups are open, and when the first of them is due (unix time)."""
        row = await self._one("group_counts")
        if row is None:
            return 0, None
        return int(row["open"] or 0), None if row["next_at"] is None else float(row["next_at"])
