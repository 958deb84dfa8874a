"""The sink-health writes that take more than one statement, as transaction scripts (see
`connector.py` and `scripts.py`): the circuit breaker's rules, once for both databases."""

from __future__ import annotations

from vidhook.receiver.store.connector import Row, Script, fetch_all, fetch_one

__all__ = ["sink_failed", "take_probe"]


def sink_failed(
    sink: str, error: str | None, *, now: float, pause_after: int, probe_interval: float
) -> Script[Row]:
    """Count a failed attempt of `sink`; at `pause_after` failures in a row (0: never) pause
    it, its first probe due `probe_interval` later. The row stays locked to the commit on
    PostgreSQL, so instances count each failure once."""
    row: Row = yield fetch_one("sink_failed", sink=sink, error=error, now=now)
    if row["paused_at"] is None and 0 < pause_after <= row["failures"]:
        paused = yield fetch_one(
            "pause_automatically", sink=sink, now=now, next_probe_at=now + probe_interval
        )
        row = paused or row
    return row


def take_probe(
    sink: str, owner: str, *, now: float, lease: float, probe_interval: float
) -> Script[list[Row]]:
    """Lease one due delivery of a paused sink as its probe, if its probe is due and no other
    worker took this interval's; the next probe is then due `probe_interval` later."""
    turn = yield fetch_one(
        "take_probe_turn", sink=sink, now=now, next_probe_at=now + probe_interval
    )
    if turn is None:
        return []
    claim = fetch_all(
        "claim", owner=owner, lease_until=now + lease, sink=sink, now=now, limit=1, probe=True
    )
    claimed: list[Row] = yield claim
    return claimed
