"""What only the PostgreSQL store does: migrations raced by instances starting together,
wake-ups across instances by LISTEN/NOTIFY (and its listener's life under a supervisor), its
URL options, and `vidhook migrate` and the operating commands on it."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import subprocess
import sys

import asyncpg
import pytest
import structlog

from tests.conftest import start_vidhook
from tests.pg import postgres_database
from tests.store_contract.samples import RAW, T0, make_event, route_to
from tests.stored_events import CONFIG, kill_delivery
from vidhook.receiver.cli import main
from vidhook.receiver.config import parse_settings
from vidhook.receiver.errors import ConfigError, StoreUnavailable
from vidhook.receiver.store import open_store
from vidhook.receiver.store.pg_listen import DeliveryListener
from vidhook.receiver.store.pg_schema import parse_target
from vidhook.receiver.store.sql import migrations

# The `vidhook` command, run by this interpreter.
VIDHOOK = [sys.executable, "-m", "vidhook"]


@pytest.fixture
async def pg_url():
    async with postgres_database() as url:
        yield url


@pytest.fixture
async def two_instances(pg_url):
    first, second = open_store(pg_url), open_store(pg_url)
    await asyncio.gather(first.open(), second.open())
    yield first, second
    await asyncio.gather(first.close(), second.close())


async def test_instances_starting_together_apply_each_migration_once(pg_url):
    stores = [open_store(pg_url) for _ in range(4)]
    await asyncio.gather(*(store.open() for store in stores))
    try:
        conn = await asyncpg.connect(pg_url)
        versions = [r[0] for r in await conn.fetch("SELECT version FROM schema_version")]
        await conn.close()
        assert sorted(versions) == [version for version, _ in migrations("postgres")]
    finally:
        await asyncio.gather(*(store.close() for store in stores))


async def _woken(store) -> asyncio.Event:
    woken = asyncio.Event()
    store.on_new_deliveries(woken.set)
    await asyncio.sleep(0.2)  # let the listener's own wake-up on connecting pass
    woken.clear()
    return woken


async def test_new_deliveries_on_one_instance_wake_the_others(two_instances):
    first, second = two_instances
    woken = await _woken(second)
    result = await first.ingest(make_event("t1"), RAW, route_to("ops"))
    await asyncio.wait_for(woken.wait(), timeout=10)

    woken.clear()
    await first.add_deliveries(result.event.id, [(None, "ops")], replay=True, now=T0)
    await asyncio.wait_for(woken.wait(), timeout=10)

    woken.clear()
    assert len(await first.claim("ops", "w1", T0, 30, 10)) == 2
    await first.release("w1")
    await asyncio.wait_for(woken.wait(), timeout=10)


async def test_the_listener_comes_back_after_losing_its_connection(two_instances, pg_url):
    first, second = two_instances
    woken = await _woken(second)
    admin = await asyncpg.connect(pg_url)
    try:
        killed = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND query LIKE 'LISTEN%'"
        )
    finally:
        await admin.close()
    assert killed == 2
    await asyncio.wait_for(woken.wait(), timeout=10)  # the wake-up after reconnecting
    for _ in range(50):
        woken.clear()
        await first.ingest(make_event(f"t{_}"), RAW, route_to("ops"))
        try:
            await asyncio.wait_for(woken.wait(), timeout=0.5)
            break
        except TimeoutError:
            continue  # the listener may still be reconnecting
    assert woken.is_set()


async def test_an_unreachable_server_is_store_unavailable_without_the_password():
    store = open_store("postgresql://vidhook:s3cret@127.0.0.1:1/vidhook")
    assert store.url == "postgresql://vidhook:***@127.0.0.1:1/vidhook"
    with pytest.raises(StoreUnavailable) as caught:
        await store.open()
    assert "s3cret" not in caught.value.message
    assert "127.0.0.1:1" in caught.value.message
    with pytest.raises(StoreUnavailable):
        await store.ping()


def test_pool_options_are_read_from_the_url_and_the_rest_go_to_the_driver():
    target = parse_target("postgresql://u:pw@db:5432/vh?pool_max=20&pool_min=2&sslmode=require")
    assert (target.pool_min, target.pool_max) == (2, 20)
    assert target.dsn == "postgresql://u:pw@db:5432/vh?sslmode=require"
    assert target.display == "postgresql://u:***@db:5432/vh?sslmode=require"
    for bad in ("pool_max=0", "pool_max=lots", "pool_min=5&pool_max=2"):
        with pytest.raises(ConfigError, match="pool_m"):
            parse_target(f"postgresql://db/vh?{bad}")
    for bad in ("postgresql://db:port/vh", "postgresql://[db/vh"):
        with pytest.raises(ConfigError, match="not a valid PostgreSQL URL"):
            open_store(bad)


async def test_vidhook_migrate_prepares_a_postgres_database(pg_url, tmp_path):
    password_url = pg_url.replace("postgres@", "postgres:unused-password@", 1)
    config = tmp_path / "vidhook.toml"
    config.write_text(f'[store]\nurl = "{password_url}"\n')
    done = await asyncio.to_thread(
        subprocess.run,
        [*VIDHOOK, "migrate", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "migrated postgresql://postgres:***@" in done.stdout
    assert "unused-password" not in done.stdout + done.stderr
    conn = await asyncpg.connect(pg_url)
    try:
        tables = {r[0] for r in await conn.fetch("SELECT tablename FROM pg_tables")}
    finally:
        await conn.close()
    assert {"events", "deliveries", "attempts", "tasks", "rejected", "meta"} <= tables


async def test_a_store_whose_connections_were_cut_reconnects(pg_url):
    store = open_store(pg_url)
    await store.open()
    try:
        await store.ingest(make_event("t1"), RAW, route_to("ops"))
        admin = await asyncpg.connect(pg_url)
        try:
            cut = await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        finally:
            await admin.close()
        assert cut >= 2  # the pool's connection and the listener's
        outcomes = []
        for n in range(20):
            try:
                await store.ingest(make_event(f"after-{n}"), RAW, route_to("ops"))
                outcomes.append("stored")
                break
            except StoreUnavailable:  # a request caught on a dying connection: answered 503
                outcomes.append("unavailable")
                await asyncio.sleep(0.1)
        assert outcomes[-1] == "stored"
    finally:
        await store.close()


async def test_a_crash_in_the_listener_is_logged_and_the_listener_restarted(pg_url):
    """A failing listener round is logged and retried like any loop's: a wake-up callback
    that raises once costs one reconnect, not the wake-ups that follow."""
    first, second = open_store(pg_url), open_store(pg_url)
    calls: list[int] = []
    woken = asyncio.Event()

    def flaky() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("wake-up failed")
        woken.set()

    second.on_new_deliveries(flaky)
    with structlog.testing.capture_logs() as logs:
        await asyncio.gather(first.open(), second.open())
        try:
            await asyncio.wait_for(woken.wait(), timeout=10)  # the restarted round's wake-up
            [listener] = second.loops
            assert isinstance(listener, DeliveryListener) and listener.running
            woken.clear()
            await first.ingest(make_event("after-crash"), RAW, route_to("ops"))
            await asyncio.wait_for(woken.wait(), timeout=10)  # notifications still arrive
        finally:
            await asyncio.gather(first.close(), second.close())
    failures = [e for e in logs if e["event"] == "LISTEN connection failed; reconnecting"]
    assert [f["error"] for f in failures] == ["wake-up failed"]
    assert not listener.running


async def test_the_app_runs_the_listener_under_its_supervisor(pg_url):
    settings = parse_settings(f'[store]\nurl = "{pg_url}"\n' + CONFIG, env={})
    vidhook, stop = await start_vidhook(settings)
    supervisor = vidhook.services.supervisor
    [listener] = supervisor.base
    assert isinstance(listener, DeliveryListener) and listener.running
    assert supervisor.get("pg-listener") is listener
    await stop()
    assert not listener.running and not supervisor.started


async def test_operating_commands_work_on_a_postgres_store(pg_url, tmp_path):
    store = open_store(pg_url)
    await store.open()
    try:
        await store.ingest(make_event("t1"), RAW, route_to("ops"))
        dead = await kill_delivery(store, "ops")
    finally:
        await store.close()
    config = tmp_path / "vidhook.toml"
    config.write_text(f'[store]\nurl = "{pg_url}"\n' + CONFIG.replace("{dir}", str(tmp_path)))

    def run(*argv: str) -> tuple[int, str]:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = main([*argv, "--config", str(config)])
        return code, out.getvalue()

    code, out = await asyncio.to_thread(run, "deliveries", "--state", "dead", "--json")
    assert code == 0 and [json.loads(line)["id"] for line in out.splitlines()] == [dead]
    code, out = await asyncio.to_thread(run, "retry", dead)
    assert code == 0
    code, out = await asyncio.to_thread(run, "deliveries", "--state", "dead", "--json")
    assert code == 0 and out.strip() == ""
