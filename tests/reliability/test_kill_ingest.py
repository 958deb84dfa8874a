"""Crash drill: SIGKILL `vidhook serve` (SQLite) while callbacks stream in; after a restart on the
same file, every callback that was answered 2xx is in the database. Three kills in a row."""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from drive import HOOK_PATH, SOURCE_CONFIG, vibegen_callback
from serve_process import ServeProcess

pytestmark = pytest.mark.slow

CLIENTS = 8
KILLS = 3
ACKED_BEFORE_KILL = 300


@dataclass
class Stream:
    """What the clients of one round saw: each acknowledged task with its event id."""

    acknowledged: dict[str, str] = field(default_factory=dict)
    unanswered: int = 0
    enough: asyncio.Event = field(default_factory=asyncio.Event)


async def client(http: httpx.AsyncClient, round_: int, number: int, stream: Stream) -> None:
    """Post callbacks for fresh tasks one after another until the server goes away."""
    sent = 0
    while True:
        task_id = f"kill-{round_}-{number}-{sent}"
        sent += 1
        try:
            answer = await http.post(HOOK_PATH, content=vibegen_callback(task_id))
        except httpx.TransportError:
            stream.unanswered += 1  # in flight when the server died: no promise was made
            return
        assert answer.status_code == 200, answer.text
        stream.acknowledged[task_id] = answer.json()["id"]
        if len(stream.acknowledged) >= ACKED_BEFORE_KILL:
            stream.enough.set()


async def stream_then_kill(server: ServeProcess, round_: int) -> Stream:
    """Stream callbacks from several clients and SIGKILL the server in the middle of it."""
    stream = Stream()
    limits = httpx.Limits(max_connections=CLIENTS)
    async with httpx.AsyncClient(base_url=server.url, timeout=10, limits=limits) as http:
        clients = [asyncio.create_task(client(http, round_, n, stream)) for n in range(CLIENTS)]
        await asyncio.wait_for(stream.enough.wait(), timeout=60)
        server.kill()
        await asyncio.wait_for(asyncio.gather(*clients), timeout=30)
    return stream


def stored(database: Path) -> dict[str, str]:
    """task_id -> event id of every event with its raw request, read from the SQLite file."""
    with sqlite3.connect(database) as db:
        rows = db.execute("SELECT task_id, id FROM events WHERE raw_body IS NOT NULL").fetchall()
    return dict(rows)


async def test_every_acknowledged_callback_survives_sigkill(tmp_path: Path) -> None:
    database = tmp_path / "vidhook.db"
    config = tmp_path / "vidhook.toml"
    config.write_text(f'[store]\nurl = "sqlite:///{database}"\n' + SOURCE_CONFIG)
    server = ServeProcess(config, tmp_path / "serve.log")
    acknowledged: dict[str, str] = {}
    unanswered = 0
    try:
        await server.start()
        for round_ in range(KILLS):
            stream = await stream_then_kill(server, round_)
            acknowledged |= stream.acknowledged
            unanswered += stream.unanswered
            await server.start()  # recovers the WAL the killed process left
            missing = acknowledged.keys() - stored(database).keys()
            assert not missing, f"round {round_}: {len(missing)} acknowledged callbacks lost"
    finally:
        server.stop()

    assert len(acknowledged) >= KILLS * ACKED_BEFORE_KILL
    assert unanswered > 0, "no request was in flight at any kill; the drill proved nothing"
    on_disk = stored(database)
    assert {task: on_disk[task] for task in acknowledged} == acknowledged
    with sqlite3.connect(database) as db:
        (duplicates,) = db.execute(
            "SELECT count(*) FROM (SELECT 1 FROM events GROUP BY source, task_id, status"
            " HAVING count(*) > 1)"
        ).fetchone()
    assert duplicates == 0
