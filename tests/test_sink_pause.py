"""Pausing and resuming a sink by hand, through the admin API of a running vidhook and through
the CLI on its store; the state outlives a restart."""

from __future__ import annotations

import asyncio
import json

from drive import SOURCE_CONFIG, eventually, http_sink, post_callbacks, rule
from sink_endpoint import Endpoint

from tests.store_contract.samples import RAW, make_event, route_to
from tests.stored_events import ADMIN, READER, bearer
from vidhook.receiver.cli import main
from vidhook.receiver.store import open_store

TOKENS = f"""
[[api_tokens]]
name = "ops"
token = "{ADMIN}"
scopes = ["read", "admin"]

[[api_tokens]]
name = "viewer"
token = "{READER}"
scopes = ["read"]
"""


def config(app: Endpoint, other: Endpoint) -> str:
    return (
        TOKENS
        + SOURCE_CONFIG
        + http_sink("app", app.url)
        + http_sink("other", other.url)
        + rule("all", "app", "other")
    )


async def sink_view(vidhook, name: str) -> dict:
    answer = await vidhook.client.get("/admin/sinks", headers=bearer(READER))
    assert answer.status_code == 200, answer.text
    [view] = [s for s in answer.json()["items"] if s["name"] == name]
    return view


async def states(vidhook, event_ids: list[str], sink: str) -> set[str]:
    store = vidhook.services.store
    rows = [row for e in event_ids for row in await store.deliveries_of(e) if row.sink == sink]
    return {row.state for row in rows}


async def test_pause_and_resume_through_the_admin_api_survive_a_restart(vidhook_factory):
    async with Endpoint() as app, Endpoint() as other:
        vidhook = await vidhook_factory(config(app, other))
        answer = await vidhook.client.post("/admin/sinks/app/pause", headers=bearer(READER))
        assert answer.status_code == 403
        answer = await vidhook.client.post("/admin/sinks/nope/pause", headers=bearer(ADMIN))
        assert (answer.status_code, answer.json()["error"]["code"]) == (404, "unknown_sink")

        answer = await vidhook.client.post("/admin/sinks/app/pause", headers=bearer(ADMIN))
        assert answer.status_code == 200, answer.text
        view = answer.json()
        assert (view["state"], view["paused_by"], view["paused_by_name"]) == (
            "paused",
            "hand",
            "token:ops",
        )
        assert view["paused_since"] is not None and view["next_probe"] is None

        sent = await post_callbacks(vidhook.client, 3, prefix="paused")

        async def other_got_them() -> bool:
            return len(other.delivered()) == 3

        await eventually(other_got_them)  # a paused sink never holds up the others
        assert app.received == []
        assert await states(vidhook, sent, "app") == {"pending"}

        await vidhook.server.shutdown()  # the restart: same database, a new process's wiring
        restarted = await vidhook_factory(config(app, other))
        view = await sink_view(restarted, "app")
        assert (view["state"], view["paused_by"], view["pending"]) == ("paused", "hand", 3)
        sent += await post_callbacks(restarted.client, 2, prefix="after-restart")
        await eventually(lambda: len(other.delivered()) == 5)
        assert app.received == []

        answer = await restarted.client.post("/admin/sinks/app/resume", headers=bearer(ADMIN))
        assert answer.status_code == 200 and answer.json()["state"] == "active"

        async def app_got_them() -> bool:
            return await states(restarted, sent, "app") == {"delivered"}

        await eventually(app_got_them)
        assert sorted(r.headers["webhook-id"] for r in app.received) == sorted(app.delivered())
        assert len(app.delivered()) == 5


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_pause_and_resume_through_the_cli(tmp_path, capsys):
    db = tmp_path / "cli.db"
    path = tmp_path / "vidhook.toml"
    path.write_text(
        f'[store]\nurl = "sqlite:///{db}"\n'
        + SOURCE_CONFIG
        + http_sink("app", "http://127.0.0.1:9/app")
        + rule("all", "app")
    )
    assert run_cli(capsys, "migrate", "--config", str(path))[0] == 0
    code, out, _ = run_cli(capsys, "sinks", "pause", "app", "--config", str(path), "--json")
    assert code == 0
    [view] = [json.loads(line) for line in out.splitlines()]
    assert (view["state"], view["paused_by"]) == ("paused", "hand")
    assert view["paused_by_name"].startswith("cli:")

    code, out, _ = run_cli(capsys, "sinks", "--config", str(path))
    assert code == 0 and "paused (by hand)" in out

    code, out, _ = run_cli(capsys, "sinks", "resume", "app", "--config", str(path), "--json")
    assert code == 0 and json.loads(out)["state"] == "active"

    code, _, err = run_cli(capsys, "sinks", "pause", "nope", "--config", str(path))
    assert code == 4 and "no sink named 'nope'" in err
    code, _, err = run_cli(capsys, "sinks", "pause", "--config", str(path))
    assert code == 2 and "name the sink to pause" in err
    code, _, err = run_cli(
        capsys, "sinks", "pause", "app", "--url", "http://127.0.0.1:9", "--config", str(path)
    )
    assert code == 2 and "POST /admin/sinks/app/pause" in err


def test_the_cli_pause_holds_a_running_workers_deliveries(tmp_path, capsys):
    """The CLI and a running service share the store: a pause by CLI stops the service's
    worker from claiming that sink's deliveries."""
    db = tmp_path / "shared.db"
    path = tmp_path / "vidhook.toml"
    path.write_text(
        f'[store]\nurl = "sqlite:///{db}"\n'
        + SOURCE_CONFIG
        + http_sink("app", "http://127.0.0.1:9/")
    )
    assert run_cli(capsys, "migrate", "--config", str(path))[0] == 0
    assert run_cli(capsys, "sinks", "pause", "app", "--config", str(path))[0] == 0

    async def claim() -> int:
        store = open_store(f"sqlite:///{db}")
        await store.open()
        try:
            await store.ingest(make_event("t1"), RAW, route_to("app"))
            return len(await store.claim("app", "w", 1e12, 30, 10))
        finally:
            await store.close()

    assert asyncio.run(claim()) == 0
