"""Retries: put dead deliveries back in the outbox, one by id or all of a sink's.

A retried delivery keeps its id and webhook id, so its receiver can tell it is the same
message; it is due at once and its attempts continue where they stopped.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from vidhook.receiver.errors import Conflict, NotFound
from vidhook.receiver.store import Store
from vidhook.receiver.store.records import DeliveryRow

__all__ = ["retry_dead", "retry_delivery"]


async def retry_delivery(
    store: Store, sinks: Collection[str], clock: Callable[[], float], delivery_id: str
) -> DeliveryRow:
    """Make one dead (or waiting) delivery due now; refuse delivered, held, rejected and
    in-flight ones."""
    row = await store.get_delivery(delivery_id)
    if row is None:
        raise NotFound(f"no delivery with id {delivery_id[:64]!r}", code="unknown_delivery")
    if row.sink not in sinks:
        raise Conflict(
            f"sink {row.sink!r} is no longer configured; replay the event to another sink",
            code="unknown_sink",
        )
    if row.state == "delivered":
        raise Conflict(
            f"delivery {delivery_id} was delivered; replay its event to send it again",
            code="not_retryable",
        )
    if row.state == "held":
        raise Conflict(
            f"delivery {delivery_id} is held until its task is confirmed", code="not_retryable"
        )
    if row.state == "rejected":
        # Its event was contradicted by the provider: sending it would pass on a forged callback.
        reason = f" ({row.last_error})" if row.last_error else ""
        raise Conflict(
            f"delivery {delivery_id} was rejected: its event was not confirmed by the"
            f" provider{reason}; it is never sent",
            code="not_retryable",
        )
    if not await store.retry_delivery(delivery_id, clock()):
        raise Conflict(f"delivery {delivery_id} is being sent right now", code="in_flight")
    return await store.get_delivery(delivery_id) or row


async def retry_dead(
    store: Store, sinks: Collection[str], clock: Callable[[], float], sink: str | None
) -> dict[str, int]:
    """Make every dead delivery of one configured sink (or of each) due now; count per sink."""
    if sink is not None and sink not in sinks:
        known = ", ".join(sorted(sinks)) or "none configured"
        raise NotFound(
            f"no sink named {sink[:64]!r}; configured sinks: {known}", code="unknown_sink"
        )
    names = [sink] if sink is not None else sorted(sinks)
    return {name: await store.retry_dead(name, clock()) for name in names}
