"""The supervisor of background loops: start in order, stop in reverse, a failing round or a
failing stop keeps nothing else from running or stopping; and the app's lifespan runs them."""

from __future__ import annotations

import asyncio

from tests.conftest import start_vidhook
from tests.stored_events import CONFIG
from vidhook.receiver.background import Loop, Supervisor
from vidhook.receiver.config import parse_settings
from vidhook.receiver.digest_loop import DigestLoop
from vidhook.receiver.retention import RetentionTask
from vidhook.receiver.store import open_store
from vidhook.receiver.store.group_commit import GroupCommitWriter
from vidhook.receiver.tasks.confirm import ConfirmWorker
from vidhook.receiver.tasks.poller import Poller
from vidhook.routes.group_flusher import GroupFlusher
from vidhook.routes.worker import OutboxWorker


class Counting(Loop):
    """Counts its rounds; fails the rounds listed in `failing`; records its life in `log`."""

    def __init__(self, name, log, *, failing=(), fail_stop=False):
        super().__init__(idle_wait=0.01)
        self.name = name
        self.log = log
        self.rounds = 0
        self.failing = set(failing)
        self.fail_stop = fail_stop
        self.round_done = asyncio.Event()

    def start(self):
        self.log.append(f"start {self.name}")
        super().start()

    async def stop(self, grace=None):
        self.log.append(f"stop {self.name}")
        if self.fail_stop:
            raise RuntimeError("cannot stop")
        await super().stop(grace)

    async def run_once(self):
        self.rounds += 1
        if self.rounds in self.failing:
            raise RuntimeError("round failed")
        self.round_done.set()
        return 3600.0  # only a wake brings the next round

    async def drain(self, grace):
        self.log.append(f"drain {self.name}")


async def test_loops_start_in_order_and_stop_in_reverse():
    log = []
    loops = [Counting("a", log), Counting("b", log), Counting("c", log)]
    supervisor = Supervisor(loops)
    supervisor.start()
    assert supervisor.started and all(loop.running for loop in loops)
    await supervisor.stop()
    assert log == [
        "start a", "start b", "start c",
        "stop c", "drain c", "stop b", "drain b", "stop a", "drain a",
    ]  # fmt: skip
    assert not supervisor.started and not any(loop.running for loop in loops)


async def test_a_loop_that_fails_to_stop_does_not_keep_the_others_running():
    log = []
    first, broken = Counting("first", log), Counting("broken", log, fail_stop=True)
    supervisor = Supervisor([first, broken])
    supervisor.start()
    await supervisor.stop()
    assert not first.running and "drain first" in log
    broken.fail_stop = False
    await broken.stop()


async def test_a_failing_round_is_retried_and_wake_runs_the_next_at_once():
    loop = Counting("flaky", [], failing={1})
    loop.start()
    await asyncio.wait_for(loop.round_done.wait(), timeout=10)
    assert loop.rounds == 2  # the failed first round was retried after idle_wait
    loop.round_done.clear()
    loop.wake()
    await asyncio.wait_for(loop.round_done.wait(), timeout=10)
    assert loop.rounds == 3
    await loop.stop()
    await loop.stop()  # stopping twice is harmless


async def test_the_app_supervises_every_loop_between_store_open_and_close(vidhook_factory):
    vidhook = await vidhook_factory(CONFIG)
    supervisor = vidhook.services.supervisor
    kinds = [type(loop) for loop in supervisor.loops]
    kinds_expected = [OutboxWorker, GroupFlusher, Poller, ConfirmWorker, DigestLoop, RetentionTask]
    assert kinds == kinds_expected
    assert supervisor.started and vidhook.services.outbox.running
    assert all(loop.running for loop in supervisor.loops if not isinstance(loop, RetentionTask))
    answer = await vidhook.client.get("/readyz")
    assert answer.status_code == 200


async def test_without_workers_no_loop_runs(vidhook_factory):
    vidhook = await vidhook_factory(CONFIG, run_workers=False)
    assert not vidhook.services.supervisor.started
    assert not any(loop.running for loop in vidhook.services.supervisor.loops)
    assert (await vidhook.client.get("/readyz")).status_code == 200


async def test_stopping_the_app_stops_every_loop_before_the_store_closes(tmp_path):
    settings = parse_settings(f'[store]\nurl = "sqlite:///{tmp_path / "v.db"}"\n' + CONFIG, env={})
    vidhook, stop = await start_vidhook(settings)
    loops = vidhook.services.supervisor.loops
    assert vidhook.services.outbox.running
    await stop()
    assert not any(loop.running for loop in loops) and not vidhook.services.supervisor.started


async def test_base_loops_start_first_stop_last_and_run_without_workers():
    log = []
    store_loop, worker = Counting("writer", log), Counting("worker", log)
    supervisor = Supervisor([worker], base=[store_loop])
    supervisor.start(workers=False)
    assert store_loop.running and not worker.running and not supervisor.started
    assert supervisor.get("writer") is store_loop and supervisor.get("worker") is worker
    await supervisor.stop()
    log.clear()

    supervisor.start()
    assert supervisor.started and store_loop.running and worker.running
    await supervisor.stop()
    assert log == [
        "start writer", "start worker",
        "stop worker", "drain worker", "stop writer", "drain writer",
    ]  # fmt: skip


class WritesWhileDraining(Loop):
    """A worker that hands back its work through the store when it stops."""

    name = "writes-while-draining"

    def __init__(self, store):
        super().__init__()
        self.store = store

    async def run_once(self):
        return 3600.0

    async def drain(self, grace):
        await self.store.set_meta("drained", "yes")


async def test_the_app_runs_the_store_writer_first_and_stops_it_after_every_worker(tmp_path):
    db = tmp_path / "v.db"
    settings = parse_settings(f'[store]\nurl = "sqlite:///{db}"\n' + CONFIG, env={})
    vidhook, stop = await start_vidhook(settings, run_workers=False)
    supervisor = vidhook.services.supervisor
    [writer] = supervisor.base
    assert isinstance(writer, GroupCommitWriter) and writer.running  # the store can write
    assert (await vidhook.client.get("/readyz")).status_code == 200
    draining = WritesWhileDraining(vidhook.services.store)
    draining.start()
    supervisor.loops.append(draining)
    await stop()
    assert not writer.running and not draining.running
    store = open_store(f"sqlite:///{db}")
    await store.open()
    try:
        assert await store.get_meta("drained") == "yes"  # written before the writer stopped
    finally:
        await store.close()


async def test_a_store_used_alone_runs_its_writer_itself(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'alone.db'}")
    [writer] = store.loops
    await store.open()
    assert writer.running
    await store.set_meta("k", "v")
    await store.close()
    assert not writer.running
