"""Crash drill: SIGKILL `vidhook serve` (SQLite) while deliveries are in flight to a slow HTTP
sink, start it again, and every acknowledged event reaches the sink; a repeat carries the same
webhook-id."""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from pathlib import Path

import httpx
import pytest
from drive import SOURCE_CONFIG, eventually, http_sink, post_callbacks, rule
from serve_process import ServeProcess
from sink_endpoint import Endpoint
from sink_servers import Reply

pytestmark = pytest.mark.slow

EVENTS = 40
# The lease (timeout + lease_margin = 120 s) outlasts the drill's bound on recovery, so the
# drill passes only if the restarted server takes back the dead process's leases at once.
SINK_OPTIONS = {"concurrency": 4, "timeout": 60, "lease_margin": 60}


async def test_deliveries_in_flight_at_sigkill_complete_after_restart(tmp_path):
    async with Endpoint(lambda _: Reply(delay=0.3)) as sink:
        config = tmp_path / "vidhook.toml"
        config.write_text(
            f'[store]\nurl = "sqlite:///{tmp_path / "vidhook.db"}"\n'
            '[log]\nformat = "json"\n'
            + SOURCE_CONFIG
            + http_sink("app", sink.url, (0.1, 0.2, 0.5, 1.0), **SINK_OPTIONS)
            + rule("all", "app")
        )
        server = ServeProcess(config, tmp_path / "serve.log")
        await server.start()
        try:
            async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
                acknowledged = await post_callbacks(client, EVENTS)
            await eventually(lambda: len(sink.received) >= 8)
            server.kill()
            assert len(sink.delivered()) < EVENTS  # work was left in flight and queued

            await server.start()
            database = tmp_path / "vidhook.db"
            await eventually(lambda: states(database) == {"delivered": EVENTS}, within=40)
        finally:
            server.stop()

    assert set(acknowledged) <= reached(sink)
    webhook_ids = defaultdict(set)
    for request in sink.received:
        webhook_ids[json.loads(request.body)["id"]].add(request.headers["webhook-id"])
    assert all(len(ids) == 1 for ids in webhook_ids.values())  # repeats only as the same id
    with sqlite3.connect(tmp_path / "vidhook.db") as db:
        rows = db.execute("SELECT state, lease_owner FROM deliveries").fetchall()
    assert rows == [("delivered", None)] * EVENTS
    released = [r for r in server.log_records() if r.get("event", "").startswith("releasing")]
    assert released, "the restarted worker should have released the dead process's leases"


def states(database: Path) -> dict[str, int]:
    """How many deliveries are in each state, read from the SQLite file."""
    with sqlite3.connect(database) as db:
        rows = db.execute("SELECT state, count(*) FROM deliveries GROUP BY state").fetchall()
    return dict(rows)


def reached(sink: Endpoint) -> set[str]:
    """The event ids the sink answered 2xx."""
    return {json.loads(r.body)["id"] for r, status in sink.answered if 200 <= status < 300}
