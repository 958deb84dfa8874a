"""Rows, as both connectors return them (column name to value), turned into records by name."""

from __future__ import annotations

from typing import TypeVar

import msgspec

from vidhook.receiver.event import Event
from vidhook.receiver.store.connector import Row
from vidhook.receiver.store.records import (
    ArchiveJob,
    AttemptRecord,
    DeliveryRow,
    DueDelivery,
    RawRequest,
    Rejection,
    SinkHealth,
    SinkStats,
    StoredEvent,
    TaskRecord,
)

__all__ = [
    "archive_job",
    "attempt",
    "decode_event",
    "decode_labels",
    "delivery",
    "due_delivery",
    "encode",
    "labels_json",
    "raw_request",
    "rejection",
    "sink_health",
    "sink_stats",
    "stored_event",
    "task",
]

T = TypeVar("T")
encode = msgspec.json.Encoder().encode
decode_event = msgspec.json.Decoder(Event).decode
decode_labels = msgspec.json.Decoder(dict[str, str]).decode


def labels_json(labels: dict[str, str]) -> str:
    """Labels as the JSON text the statements compare (PostgreSQL's own copy of an event's
    labels and the label filter replace NUL in it, which jsonb cannot hold)."""
    return encode(labels).decode()


def _as(row: Row, kind: type[T]) -> T:
    # Not strict: SQLite answers 0/1 where PostgreSQL answers booleans.
    return msgspec.convert(row, kind, strict=False)


def stored_event(row: Row) -> StoredEvent:
    """An event row (`body`, `stale`, `held`, `note`)."""
    return StoredEvent(
        event=decode_event(row["body"]),
        stale=bool(row["stale"]),
        held=bool(row["held"]),
        note=row["note"],
    )


def task(row: Row) -> TaskRecord:
    """A task row; its labels are stored as JSON."""
    return _as({**row, "labels": decode_labels(row["labels"])}, TaskRecord)


def delivery(row: Row) -> DeliveryRow:
    """A delivery row as the admin API shows it."""
    return _as(row, DeliveryRow)


def due_delivery(row: Row) -> DueDelivery:
    """A claimed delivery with its event (`event`, JSON) and raw body (`raw_body`)."""
    return DueDelivery(
        id=row["id"],
        event_id=row["event_id"],
        sink=row["sink"],
        webhook_id=row["webhook_id"],
        attempts=row["attempts"],
        replay=bool(row["replay"]),
        event=decode_event(row["event"]),
        raw_body=None if row["raw_body"] is None else bytes(row["raw_body"]),
        group_id=row.get("group_id"),
        digest_id=row.get("digest_id"),
    )


def attempt(row: Row) -> AttemptRecord:
    """An attempt row."""
    return _as(row, AttemptRecord)


def raw_request(row: Row) -> RawRequest:
    """A raw request row; its headers are stored as JSON."""
    return RawRequest(
        method=row["method"],
        path=row["path"],
        client=row["client"],
        headers=decode_labels(row["headers"]),
        body=bytes(row["body"]),
    )


def sink_stats(row: Row) -> SinkStats:
    """A `sink_stats` row; a sink without deliveries in one state counts 0 there."""
    counts = {name: row[name] or 0 for name in ("pending", "dead", "delivered")}
    return _as({**row, **counts}, SinkStats)


def rejection(row: Row) -> Rejection:
    """A row of the rejection log."""
    return Rejection(**{**row, "head": bytes(row["head"])})


def archive_job(row: Row) -> ArchiveJob:
    """An archive job row."""
    return _as(row, ArchiveJob)


def sink_health(row: Row) -> SinkHealth:
    """A `sink_health` row."""
    return _as(row, SinkHealth)
