"""Crash drill for grouping: SIGKILL `vidhook serve` (SQLite) while a group waits out its
`group_wait`, start it again, and the group still goes out as exactly one Slack message
holding every event."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import httpx
import pytest
from drive import SOURCE_CONFIG, eventually, post_callbacks
from serve_process import ServeProcess
from sink_endpoint import Endpoint

pytestmark = pytest.mark.slow

EVENTS = 6
# Long beside posting six callbacks, so the kill lands inside the wait; the drill then waits
# for it to pass in real time, since a separate process cannot take an injected clock.
RULE = """
[sinks.ops-slack]
type = "slack"
webhook_url = "{url}"
retry_schedule = [0.1, 0.5]

[[rules]]
name = "failures"
sinks = ["ops-slack"]
group_by = ["source", "type"]
group_wait = "8s"
"""


def groups(database: Path) -> list[tuple[str, int]]:
    """Each group's state and size, read from the SQLite file."""
    with sqlite3.connect(database) as db:
        return db.execute("SELECT state, size FROM event_groups ORDER BY created_at").fetchall()


async def test_a_group_waiting_at_sigkill_is_sent_once_after_restart(tmp_path):
    database = tmp_path / "vidhook.db"
    async with Endpoint() as slack:
        config = tmp_path / "vidhook.toml"
        config.write_text(
            f'[store]\nurl = "sqlite:///{database}"\n[log]\nformat = "json"\n'
            + SOURCE_CONFIG
            + RULE.format(url=slack.url)
        )
        server = ServeProcess(config, tmp_path / "serve.log")
        await server.start()
        try:
            async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
                await post_callbacks(client, EVENTS, status="failed")
            assert groups(database) == [("open", EVENTS)]  # still inside group_wait
            server.kill()
            assert slack.received == []

            await server.start()
            await eventually(lambda: len(slack.delivered("content-type")) == 1, within=60)
            await eventually(lambda: groups(database) == [("sent", EVENTS)])
        finally:
            server.stop()
    with sqlite3.connect(database) as db:
        rows = db.execute("SELECT state FROM deliveries WHERE sink = 'ops-slack'").fetchall()
    assert rows == [("delivered",)]
    assert len(slack.received) == 1
    message = json.loads(slack.received[0].body)
    assert (
        message["blocks"][0]["text"]["text"]
        == f"❌ {EVENTS} events: source=vibegen, type=task.failed"
    )
