"""`vidhook events`, `show`, `deliveries`, `retry`, `sinks`, `rejected` and `callback-url` on
a temporary config and SQLite file, as a user runs them."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.stored_events import CONFIG, HOOK, RAW, kill_delivery, make_event
from vidhook.receiver.cli import main
from vidhook.receiver.store import open_store
from vidhook.receiver.store.records import Rejection


class Workspace:
    """A config file and its store, seeded through the store itself."""

    def __init__(self, tmp_path):
        self.db = tmp_path / "cli.db"
        self.config = tmp_path / "vidhook.toml"
        text = CONFIG.replace("{dir}", str(tmp_path))
        self.config.write_text(f'[store]\nurl = "sqlite:///{self.db}"\n{text}')

    def seed(self, work):
        async def run():
            store = open_store(f"sqlite:///{self.db}")
            await store.open()
            try:
                return await work(store)
            finally:
                await store.close()

        return asyncio.run(run())

    def run(self, capsys, *argv):
        code = main([*argv, "--config", str(self.config)])
        out, err = capsys.readouterr()
        return code, out, err

    def json(self, capsys, *argv):
        code, out, err = self.run(capsys, *argv, "--json")
        assert code == 0, err
        return [json.loads(line) for line in out.splitlines()]


def route(event):
    if event.type == "task.failed":
        return [("failures", "ops"), ("everything", "out")]
    return [("everything", "out")]


@pytest.fixture
def ws(tmp_path):
    return Workspace(tmp_path)


@pytest.fixture
def seeded(ws):
    events = [make_event(n, labels={"team": "growth"}) for n in range(3)]
    events.append(make_event(9, status="failed", source="evolink", provider="evolink"))

    async def work(store):
        for event in events:
            await store.ingest(event, RAW, route)
        return await kill_delivery(store, "ops", "connection refused")

    dead = ws.seed(work)
    return ws, events, dead


def test_events_table_json_filters_and_pages(seeded, capsys):
    ws, events, _ = seeded
    code, out, _ = ws.run(capsys, "events")
    assert code == 0 and all(e.id in out for e in events) and "task.failed" in out
    listed = ws.json(capsys, "events", "--type", "task.failed")
    assert [item["event"]["id"] for item in listed] == [events[3].id]
    labelled = ws.json(capsys, "events", "--label", "team=growth", "--since", "1h")
    assert len(labelled) == 3
    code, out, err = ws.run(capsys, "events", "--limit", "2")
    assert f"more: add --cursor {events[2].id}" in err
    rest = ws.json(capsys, "events", "--limit", "2", "--cursor", events[2].id)
    assert [i["event"]["id"] for i in rest] == [events[1].id, events[0].id]


def test_events_refuses_bad_filters(ws, capsys):
    ws.seed(lambda store: asyncio.sleep(0))  # the store exists, empty
    code, _, err = ws.run(capsys, "events", "--since", "last tuesday")
    assert code == 2 and "since: 'last tuesday' is not a time" in err
    code, _, err = ws.run(capsys, "events", "--label", "team:growth")
    assert code == 2 and "write it as KEY=VALUE" in err
    code, out, err = ws.run(capsys, "events")
    assert code == 0 and out == "" and "no events match" in err


def test_show_an_event(seeded, capsys):
    ws, events, dead = seeded
    failed = events[3]
    code, out, _ = ws.run(capsys, "show", failed.id)
    assert code == 0
    assert failed.task_id in out and "/hooks/vibegen/[redacted]" in out
    assert dead in out and "connection refused" in out
    [detail] = ws.json(capsys, "show", failed.id)
    assert detail["event"]["id"] == failed.id and detail["raw"]["body"] == RAW.body.decode()
    assert {d["sink"] for d in detail["deliveries"]} == {"ops", "out"}
    assert detail["attempts"][0]["outcome"] == "dead"
    code, _, err = ws.run(capsys, "show", "missing-id")
    assert code == 4 and "no event with id 'missing-id'" in err


def test_deliveries_and_retry(seeded, capsys):
    ws, _, dead = seeded
    listed = ws.json(capsys, "deliveries", "--state", "dead")
    assert [d["id"] for d in listed] == [dead]
    code, out, _ = ws.run(capsys, "deliveries", "--sink", "out")
    assert code == 0 and out.count("\tout\t") == 4
    retried = ws.json(capsys, "retry", dead)
    assert retried[0]["state"] == "pending"
    code, _, err = ws.run(capsys, "retry", dead)
    assert code == 0  # pending and not held by a worker: due now again
    code, _, err = ws.run(capsys, "retry")
    assert code == 2 and "name delivery ids to retry, or use --dead" in err
    code, _, err = ws.run(capsys, "retry", "nope")
    assert code == 4 and "no delivery with id 'nope'" in err


def test_retry_every_dead_delivery_of_a_sink(seeded, capsys):
    ws, _, _ = seeded
    assert ws.json(capsys, "retry", "--dead", "--sink", "ops") == [{"sink": "ops", "retried": 1}]
    assert ws.json(capsys, "retry", "--dead") == [
        {"sink": "ops", "retried": 0},
        {"sink": "out", "retried": 0},
    ]
    code, _, err = ws.run(capsys, "retry", "--dead", "--sink", "opps")
    assert code == 4 and "no sink named 'opps'; did you mean 'ops'? (known: ops, out)" in err


def test_sinks_and_rejected(seeded, capsys):
    ws, _, _ = seeded
    sinks = {s["name"]: s for s in ws.json(capsys, "sinks")}
    assert (sinks["ops"]["dead"], sinks["out"]["pending"]) == (1, 4)
    assert sinks["ops"]["last_error"] == "connection refused"
    code, out, _ = ws.run(capsys, "sinks")
    assert code == 0 and "connection refused" in out
    rejection = Rejection(
        at="2025-01-01T00:00:00.000Z", source="vibegen", reason="unauthorized", status=401,
        message="URL token does not match", client="10.1.2.3", size=2, head=b"{}",
    )  # fmt: skip
    ws.seed(lambda store: store.record_rejection(rejection, 100))
    rows = ws.json(capsys, "rejected")
    assert rows[0]["client"] == "10.1.2.3" and rows[0]["head"] == "{}"
    code, out, _ = ws.run(capsys, "rejected")
    assert "URL token does not match" in out


def test_callback_url(ws, capsys):
    code, out, _ = ws.run(capsys, "callback-url", "vibegen")
    assert code == 0 and out.strip().endswith(f"/hooks/vibegen/{HOOK}")


def test_reading_commands_open_only_the_store(seeded, capsys):
    """A sink whose type is not installed here stops `serve`, not the commands that only read
    the store: they build no sinks, rules or HTTP client."""
    ws, events, dead = seeded
    ws.config.write_text(ws.config.read_text() + '\n[sinks.archive]\ntype = "not-installed"\n')
    code, out, err = ws.run(capsys, "events")
    assert code == 0 and all(e.id in out for e in events), err
    [deliveries] = [ws.json(capsys, "deliveries", "--state", "dead")]
    assert [d["id"] for d in deliveries] == [dead]
    sinks = {row["name"]: row for row in ws.json(capsys, "sinks")}
    assert sinks["archive"]["type"] == "not-installed" and sinks["archive"]["configured"]
    assert sinks["ops"]["dead"] == 1
    code, _, err = ws.run(capsys, "replay", events[0].id)
    assert code != 0 and "not-installed" in err
