"""The delivery worker's life: graceful stop, leases left by a dead process, and waiting
quietly while a sink is full. Real app, real SQLite file, real HTTP endpoints on loopback."""

from __future__ import annotations

import asyncio
import os
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import structlog
from drive import SOURCE_CONFIG, eventually, http_sink, post_callbacks, rule
from sink_endpoint import Endpoint, answer_ok
from sink_servers import Reply

from tests.conftest import start_vidhook
from vidhook.receiver.config import parse_settings
from vidhook.receiver.errors import StoreUnavailable
from vidhook.receiver.metrics import Metrics
from vidhook.routes.worker import OutboxWorker, dead_local_owners, worker_owner


async def start(tmp_path: Path, sinks: str, *, run_workers: bool = True):
    text = f'[store]\nurl = "sqlite:///{tmp_path / "vidhook.db"}"\n' + SOURCE_CONFIG + sinks
    return await start_vidhook(parse_settings(text, env={}), run_workers=run_workers)


def leased(tmp_path: Path) -> list[tuple[str, str]]:
    """(delivery id, lease owner) of every delivery that is leased, read from the file."""
    with sqlite3.connect(tmp_path / "vidhook.db") as db:
        rows = db.execute("SELECT id, lease_owner FROM deliveries WHERE lease_owner IS NOT NULL")
        return [(row[0], row[1]) for row in rows]


def states(tmp_path: Path) -> list[str]:
    with sqlite3.connect(tmp_path / "vidhook.db") as db:
        return [row[0] for row in db.execute("SELECT state FROM deliveries ORDER BY id")]


def dead_pid() -> int:
    """The pid of a process of this host that has exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


async def test_graceful_stop_lets_in_flight_deliveries_finish(tmp_path):
    async with Endpoint(lambda _: Reply(delay=0.5)) as sink:
        vidhook, stop = await start(tmp_path, http_sink("app", sink.url) + rule("all", "app"))
        await post_callbacks(vidhook.client, 3)
        await eventually(lambda: len(sink.received) == 3)
        assert sink.answered == []
        await stop()
        assert len(sink.delivered()) == 3
    assert states(tmp_path) == ["delivered"] * 3
    assert leased(tmp_path) == []


async def test_stop_releases_deliveries_that_do_not_finish_in_time(tmp_path):
    async with Endpoint(lambda _: Reply(delay=3600)) as sink:
        vidhook, stop = await start(
            tmp_path, http_sink("app", sink.url, concurrency=2) + rule("all", "app"),
            run_workers=False,
        )  # fmt: skip
        try:
            await post_callbacks(vidhook.client, 3)
            store = vidhook.services.store
            first = OutboxWorker(store, vidhook.services.sinks, Metrics())
            first.start()
            await eventually(lambda: len(sink.received) == 2)
            assert len(leased(tmp_path)) == 2
            await first.stop(grace=0.1)
            assert leased(tmp_path) == []
            assert states(tmp_path) == ["pending"] * 3

            # Another worker takes them up at once, under the same webhook ids.
            sink.answer = answer_ok
            second = OutboxWorker(store, vidhook.services.sinks, Metrics())
            second.start()
            await eventually(lambda: len(sink.delivered()) == 3)
            await second.stop()
        finally:
            await stop()
    first_ids = {request.headers["webhook-id"] for request in sink.received[:2]}
    assert first_ids <= set(sink.delivered())
    assert leased(tmp_path) == []


async def test_start_releases_leases_of_dead_processes_on_this_host(tmp_path):
    async with Endpoint() as sink:
        vidhook, stop = await start(
            tmp_path, http_sink("app", sink.url) + rule("all", "app"), run_workers=False
        )
        try:
            await post_callbacks(vidhook.client, 4)
            host, store = socket.gethostname(), vidhook.services.store
            crashed = f"{host}/{dead_pid()}/a1b2c3d4"
            alive = f"{host}/{os.getpid()}/e5f6a7b8"
            elsewhere = f"other-{host}/{dead_pid()}/c9d0e1f2"
            for owner in (crashed, alive, elsewhere, "unreadable"):
                [_] = await store.claim("app", owner, time.time(), 3600.0, 1)
            assert sorted(await store.lease_owners()) == sorted(
                [crashed, alive, elsewhere, "unreadable"]
            )

            worker = OutboxWorker(store, vidhook.services.sinks, Metrics())
            worker.start()
            await eventually(lambda: len(sink.delivered()) == 1)
            await worker.stop()
        finally:
            await stop()
    assert sorted(owner for _, owner in leased(tmp_path)) == sorted(
        [alive, elsewhere, "unreadable"]
    )


def test_dead_local_owners_picks_only_gone_processes_of_this_host():
    gone = dead_pid()
    owners = [
        f"box/{gone}/n1",
        f"box/{os.getpid()}/n2",
        f"other/{gone}/n3",
        "box/not-a-pid/n4",
        "garbage",
        worker_owner(),
    ]
    assert dead_local_owners(owners, host="box") == [f"box/{gone}/n1"]
    host, pid, nonce = worker_owner().split("/")
    assert (host, pid, len(nonce)) == (socket.gethostname(), str(os.getpid()), 8)


class CountingStore:
    """A store that counts how often the worker looks for due deliveries."""

    def __init__(self, store) -> None:
        self._store = store
        self.looks = 0

    async def next_due(self, *args, **kwargs):
        self.looks += 1
        return await self._store.next_due(*args, **kwargs)

    def __getattr__(self, name: str):
        return getattr(self._store, name)


async def test_a_full_sink_with_a_backlog_does_not_make_the_worker_spin(tmp_path):
    async with Endpoint(lambda _: Reply(delay=3600)) as stuck, Endpoint() as fast:
        sinks = http_sink("stuck", stuck.url, concurrency=1) + http_sink("fast", fast.url)
        vidhook, stop = await start(tmp_path, sinks + rule("all", "stuck"), run_workers=False)
        try:
            await post_callbacks(vidhook.client, 5)
            store = CountingStore(vidhook.services.store)
            worker = OutboxWorker(store, vidhook.services.sinks, Metrics(), idle_wait=0.5)
            worker.start()
            await eventually(lambda: len(stuck.received) == 1)
            # Four deliveries are due and cannot be sent: the worker should wait for a slot
            # (or its idle wait), not poll the store in a loop.
            before = store.looks
            await asyncio.sleep(1.0)
            assert store.looks - before <= 6
            await worker.stop(grace=0.1)
        finally:
            await stop()
    assert len(stuck.received) == 1


class StoreFailingToFinish(CountingStore):
    """A store whose first `failures` attempt records fail, as a full disk would make them."""

    def __init__(self, store, failures: int) -> None:
        super().__init__(store)
        self.failures = failures

    async def finish(self, attempt):
        if self.failures > 0:
            self.failures -= 1
            raise StoreUnavailable("the store cannot commit: disk I/O error")
        return await self._store.finish(attempt)


async def test_an_attempt_the_store_cannot_record_at_once_is_recorded_on_a_retry(tmp_path):
    async with Endpoint() as sink:
        vidhook, stop = await start(
            tmp_path, http_sink("app", sink.url) + rule("all", "app"), run_workers=False
        )
        try:
            [event_id] = await post_callbacks(vidhook.client, 1)
            store = StoreFailingToFinish(vidhook.services.store, failures=2)
            worker = OutboxWorker(store, vidhook.services.sinks, Metrics())
            worker.start()
            await eventually(lambda: store.failures == 0 and states(tmp_path) == ["delivered"])
            await worker.stop()
            [attempt] = await vidhook.services.store.attempts_of(event_id)
        finally:
            await stop()
    assert (attempt.outcome, len(sink.received)) == ("delivered", 1)
    assert leased(tmp_path) == []


async def test_start_warns_of_deliveries_pending_for_a_sink_no_longer_configured(tmp_path):
    async with Endpoint() as kept, Endpoint(lambda _: Reply(delay=3600)) as gone:
        sinks = http_sink("kept", kept.url) + http_sink("gone", gone.url)
        vidhook, stop = await start(
            tmp_path, sinks + rule("all", "kept", "gone"), run_workers=False
        )
        try:
            await post_callbacks(vidhook.client, 2)
            configured = {"kept": vidhook.services.sinks["kept"]}
            worker = OutboxWorker(vidhook.services.store, configured, Metrics())
            with structlog.testing.capture_logs() as logs:
                worker.start()
                await eventually(lambda: len(kept.delivered()) == 2)
                await worker.stop()
        finally:
            await stop()
    [warning] = [line for line in logs if line["event"].startswith("deliveries pending")]
    assert (warning["log_level"], warning["sink"], warning["pending"]) == ("warning", "gone", 2)
    assert warning["hint"] == (
        "re-add [sinks.gone] to send them, or see them with "
        "GET /admin/deliveries?sink=gone&state=pending"
    )
    assert gone.received == []
