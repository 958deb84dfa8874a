"""`vidhook replay` and `vidhook rules test` on the configured store, including a replay made
by the command while a server runs on the same SQLite file and delivers it."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.conftest import fixture_bytes, start_vidhook
from tests.sink_servers import HttpServer
from tests.stored_events import CONFIG, HOOK, RAW, make_event
from tests.test_cli_operate import Workspace, route
from vidhook.receiver.cli import main
from vidhook.receiver.config import load_settings


@pytest.fixture
def seeded(tmp_path):
    ws = Workspace(tmp_path)
    events = [make_event(n) for n in range(3)] + [make_event(7, status="failed")]

    async def work(store):
        for event in events:
            await store.ingest(event, RAW, route)

    ws.seed(work)
    return ws, events


def test_replay_dry_run_counts_and_writes_nothing(seeded, capsys):
    ws, _ = seeded
    [result] = ws.json(capsys, "replay", "--since", "1h", "--dry-run")
    assert result == {
        "dry_run": True, "events": 4, "deliveries": 5, "by_sink": {"ops": 1, "out": 4},
        "skipped_held": 0, "skipped_rejected": 0, "skipped_stale": 0,
    }  # fmt: skip
    assert ws.json(capsys, "deliveries")[0]["replay"] is False
    code, out, _ = ws.run(capsys, "replay", "--status", "failed", "--dry-run")
    assert code == 0 and "1 events: would make 2 deliveries" in out


def test_replay_by_filter_and_to_named_sinks(seeded, capsys):
    ws, events = seeded
    [made] = ws.json(capsys, "replay", "--type", "task.completed", "--to", "ops")
    assert (made["events"], made["by_sink"]) == (3, {"ops": 3})
    replays = [d for d in ws.json(capsys, "deliveries") if d["replay"]]
    assert len(replays) == 3 and {d["sink"] for d in replays} == {"ops"}
    one = ws.json(capsys, "replay", events[3].id[:-2])  # a prefix
    assert sorted((d["sink"], d["rule"]) for d in one) == [
        ("ops", "failures"),
        ("out", "everything"),
    ]
    code, out, _ = ws.run(capsys, "replay", events[0].id)
    assert code == 0 and "\tyes\t" in out  # the replay column of the new delivery
    [filtered] = ws.json(capsys, "replay", "--sink", "ops", "--dry-run")
    assert filtered["events"] == 4  # --sink filters: events once routed to ops


def test_replay_refusals(seeded, capsys):
    ws, events = seeded
    cases = [
        (["replay"], 2, "give an event ID or a filter (e.g. --since 1h), or --all"),
        (["replay", "--all", "--to", "pager"], 4, "no sink named 'pager' (known: ops, out)"),
        (["replay", "--all", "--to", "outt"], 4, "did you mean 'out'?"),
        (["replay", "--all", "--max-events", "2"], 2, "the filter matches 4 events, more than"),
        (["replay", events[0].id, "--dry-run"], 2, "replay ID takes no filters"),
        (["replay", "no-such-event"], 4, "no event with id 'no-such-event'"),
    ]
    for argv, exit_code, message in cases:
        code, _, err = ws.run(capsys, *argv)
        assert code == exit_code and message in err, (argv, err)
    assert ws.json(capsys, "replay", "--all", "--dry-run")[0]["events"] == 4


RULES = """
[[rules]]
name = "failures-to-ops"
when = { type = "task.failed" }
sinks = ["ops"]
stop = true

[[rules]]
name = "the-rest"
sinks = ["out", "ops"]
"""


def test_rules_test_reports_matches_and_sinks(seeded, capsys, tmp_path):
    ws, events = seeded
    rules = tmp_path / "new-rules.toml"
    rules.write_text(RULES)
    [report] = ws.json(capsys, "rules", "test", str(rules), "--since", "7d")
    assert (report["events"], report["unrouted"]) == (4, 0)
    by_name = {r["name"]: r for r in report["rules"]}
    assert by_name["failures-to-ops"]["matched"] == 1
    assert by_name["failures-to-ops"]["sinks"] == {"ops": 1}
    assert by_name["failures-to-ops"]["events"][0]["id"] == events[3].id
    assert by_name["the-rest"]["matched"] == 3  # stop kept the failure out
    assert by_name["the-rest"]["sinks"] == {"ops": 3, "out": 3}
    code, out, _ = ws.run(capsys, "rules", "test", str(rules))
    assert code == 0 and "4 stored events tested against 2 rules" in out
    assert "out x3" in out and events[3].id in out
    assert ws.json(capsys, "deliveries")[0]["replay"] is False  # nothing sent


def test_rules_test_refuses_invalid_files(seeded, capsys, tmp_path):
    ws, _ = seeded
    bad = tmp_path / "bad.toml"
    bad.write_text('[[rules]]\nname = "x"\nsinks = ["pager"]\n')
    code, _, err = ws.run(capsys, "rules", "test", str(bad))
    assert code == 3 and f'{bad}: rule "x": sinks: unknown sink "pager"' in err
    bad.write_text('[[rules]]\nname = "x"\nsinks = ["out"]\nwhen = { status = { "$near" = 1 } }\n')
    code, _, err = ws.run(capsys, "rules", "test", str(bad))
    assert code == 3 and str(bad) in err and "$near" in err
    code, _, err = ws.run(capsys, "rules", "test", str(tmp_path / "missing.toml"))
    assert code == 3 and "cannot read" in err


HTTP_SINK = """
[sinks.app]
type = "http"
url = "{url}"

[[rules]]
name = "to-app"
sinks = ["app"]
"""


async def test_replay_from_the_command_while_the_server_runs(tmp_path, capsys):
    async with HttpServer() as sink:
        path = tmp_path / "vidhook.toml"
        base = CONFIG.split("[sinks.out]")[0]  # the tokens and sources, without sinks or rules
        path.write_text(
            f'[store]\nurl = "sqlite:///{tmp_path / "live.db"}"\n{base}'
            + HTTP_SINK.replace("{url}", sink.url)
        )
        vidhook, stop = await start_vidhook(load_settings(path), config_path=str(path))
        try:
            body = fixture_bytes("vibegen", "callback_completed")
            answer = await vidhook.client.post(f"/hooks/vibegen/{HOOK}", content=body)
            event_id = answer.json()["id"]
            await wait_for(lambda: len(sink.received) == 1)
            code = await asyncio.to_thread(
                main, ["replay", "--config", str(path), "--since", "1h", "--json"]
            )
            out, err = capsys.readouterr()
            assert code == 0, err
            assert json.loads(out)["deliveries"] == 1
            # The server's worker finds the command's deliveries in the shared file.
            await wait_for(lambda: len(sink.received) == 2)
            first, again = (r.headers["webhook-id"] for r in sink.received)
            assert first != again
            await wait_for_delivered(vidhook.services.store, event_id)
            deliveries = await vidhook.services.store.deliveries_of(event_id)
            assert sorted((d.replay, d.state) for d in deliveries) == [
                (False, "delivered"),
                (True, "delivered"),
            ]
        finally:
            await stop()


async def wait_for(condition, rounds: int = 500) -> None:
    for _ in range(rounds):  # bounded: at most about ten seconds
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met")


async def wait_for_delivered(store, event_id: str) -> None:
    for _ in range(500):  # bounded, as above
        if all(d.state == "delivered" for d in await store.deliveries_of(event_id)):
            return
        await asyncio.sleep(0.02)
