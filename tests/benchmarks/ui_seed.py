"""Seed a store with many events straight through SQL, for ui_events.py.

The events look like a busy deployment's: 8 sources over 3 providers, one event every
`SPACING_MS` (1M events span about 30 days), UUIDv7 ids from the same moment as `received_at`,
statuses 60% completed, 10% failed, 30% processing, and labels on 90% of them: an `end_user_id`
among 10,000 and a `team` among 5. Bodies are the JSON vidhook stores, so the store's own reads
decode them. SQLite takes one transaction of `executemany`; PostgreSQL takes COPY.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime

import asyncpg
import msgspec

from vidhook.receiver.event import Credits, ErrorInfo, Event, event_type, rfc3339

__all__ = ["SOURCES", "START_MS", "USERS", "event_rows", "seed_postgres", "seed_sqlite"]

SOURCES = [f"source-{n}" for n in range(8)]
PROVIDERS = ["vibegen", "generic", "vibegen"]
USERS = 10_000
TEAMS = ["growth", "core", "video", "ads", "labs"]
START_MS = 1_790_000_000_000  # 2026-09-21
SPACING_MS = 2_600
_COLUMNS = (
    "id",
    "source",
    "provider",
    "task_id",
    "type",
    "status",
    "model",
    "received_at",
    "body",
)
_ENCODER = msgspec.json.Encoder()

Row = tuple[str, str, str, str, str, str, str, str, bytes, str]


def _uuid7(ms: int, n: int) -> str:
    rand = int.from_bytes(os.urandom(8), "big") & 0x3FFFFFFFFFFFFFFF
    value = (ms << 80) | (0x7 << 76) | ((n & 0xFFF) << 64) | (0x2 << 62) | rand
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _labels(n: int) -> dict[str, str]:
    if n % 10 == 9:
        return {}
    return {"end_user_id": f"user-{(n * 7919) % USERS}", "team": TEAMS[n % len(TEAMS)]}


def event_rows(count: int) -> Iterator[Row]:
    """`count` events, oldest first: the columns of `events` and the labels as JSON."""
    for n in range(count):
        ms = START_MS + n * SPACING_MS
        roll = (n * 37) % 10
        status = "completed" if roll < 6 else "failed" if roll == 6 else "processing"
        source = SOURCES[n % len(SOURCES)]
        labels = _labels(n)
        event = Event(
            id=_uuid7(ms, n),
            type=event_type(status),
            source=source,
            provider=PROVIDERS[n % len(PROVIDERS)],
            task_id=f"task-{n // 2:08d}-{n % 2}",
            status=status,
            provider_status=status.upper(),
            model="vibe-2" if n % 3 else "vibe-1",
            video_urls=[f"https://cdn.example/v/{n}.mp4"] if status == "completed" else [],
            error=ErrorInfo("content policy", code="E42") if status == "failed" else None,
            credits=Credits(reserved=12.5),
            labels=labels,
            received_at=rfc3339(datetime.fromtimestamp(ms / 1000, UTC)),
            verified_by=["token"],
        )
        yield (
            event.id,
            event.source,
            event.provider,
            event.task_id,
            event.type,
            event.status,
            event.model or "",
            event.received_at,
            _ENCODER.encode(event),
            _ENCODER.encode(labels).decode(),
        )


def seed_sqlite(path: str, count: int) -> None:
    """Insert `count` events into the migrated SQLite file at `path`, in one transaction."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("BEGIN")
        names = ", ".join(_COLUMNS)
        marks = ", ".join("?" for _ in _COLUMNS)
        conn.executemany(
            f"INSERT INTO events ({names}) VALUES ({marks})",
            (row[:-1] for row in event_rows(count)),
        )
        # what ingest writes beside each event: its labels, one row each
        conn.execute(
            "INSERT INTO event_labels (key, value, event_at, event_id)"
            " SELECT l.key, l.value, e.received_at, e.id"
            " FROM events e, json_each(e.body, '$.labels') l"
        )
        conn.execute("COMMIT")  # no ANALYZE: vidhook never runs it on its file
    finally:
        conn.close()


async def seed_postgres(url: str, count: int) -> None:
    """COPY `count` events into the migrated PostgreSQL database at `url`."""
    conn = await asyncpg.connect(url)
    try:
        batch: list[Row] = []
        for row in event_rows(count):
            batch.append(row)
            if len(batch) == 50_000:
                await _copy(conn, batch)
                batch = []
        if batch:
            await _copy(conn, batch)
        await conn.execute("VACUUM ANALYZE events")
    finally:
        await conn.close()


async def _copy(conn: asyncpg.Connection, batch: list[Row]) -> None:
    await conn.copy_records_to_table(
        "events", records=batch, columns=[*_COLUMNS, "labels"], timeout=600
    )
