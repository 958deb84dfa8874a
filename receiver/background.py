"""Background loops and their one owner: the store's own loops (SQLite's group-commit writer,
PostgreSQL's LISTEN connection), the outbox worker, the poller, the confirm worker and retention
each run under a `Supervisor` started and stopped in the app's lifespan.

`Loop` is the skeleton they share (start, stop, wake, one round at a time) so that each loop
says only what one round does and how long to wait before the next.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Protocol

import structlog

__all__ = ["BackgroundLoop", "Loop", "Supervisor"]

log = structlog.get_logger("vidhook")


class BackgroundLoop(Protocol):
    """What the supervisor needs of a loop."""

    name: str

    @property
    def running(self) -> bool:
        """Whether the loop's task is alive."""
        ...

    def start(self) -> None:
        """Start the loop's task."""
        ...

    async def stop(self) -> None:
        """Stop the loop and wait for it to end."""
        ...

    def wake(self) -> None:
        """Run the next round now instead of after the wait."""
        ...


class Loop:
    """A loop that runs `run_once` in rounds, waiting the delay it returns (or until `wake`)
    between rounds; a failing round is logged and retried after `idle_wait`, since the store
    or a provider may be down for a while."""

    name = "loop"
    failure = "background round failed"

    def __init__(self, idle_wait: float = 1.0, grace: float = 5.0) -> None:
        self.idle_wait = idle_wait
        self.grace = grace
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    @property
    def running(self) -> bool:
        """Whether the loop's task is alive."""
        return self._task is not None and not self._task.done()

    def wake(self) -> None:
        """Run the next round now."""
        self._wake.set()

    def start(self) -> None:
        """Start the loop's task."""
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name=f"vidhook-{self.name}")

    async def stop(self, grace: float | None = None) -> None:
        """Stop after the round in progress, then give `drain` up to `grace` seconds (the
        loop's own by default) to finish what the rounds began."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await self.drain(self.grace if grace is None else grace)

    async def prepare(self) -> None:
        """Work done once before the first round."""

    async def run_once(self) -> float:
        """One round; returns the seconds to wait before the next."""
        raise NotImplementedError

    async def drain(self, grace: float) -> None:
        """Work done once after the last round: finish, within `grace` seconds, or hand back
        what is in flight."""

    async def _run(self) -> None:
        await self.prepare()
        while not self._stopping:
            self._wake.clear()
            try:
                delay = await self.run_once()
            except Exception as exc:  # keep trying: the next round may succeed
                log.error(self.failure, error=str(exc))
                delay = self.idle_wait
            if self._stopping:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=delay)


class Supervisor:
    """The owner of every background loop and of their order.

    `base` are the loops the others stand on (the store's writer and listener): they start
    first, run even when the workers do not (`start(workers=False)`), and stop last, after
    every worker has drained. `loops` (the workers) start in order after them and stop in
    reverse order. A store used alone (CLI, tests) runs its base loops under a supervisor of
    its own (`Store.open`); a server's `Services` runs them under its one.
    """

    def __init__(
        self, loops: Sequence[BackgroundLoop] = (), *, base: Sequence[BackgroundLoop] = ()
    ) -> None:
        self.base = list(base)
        self.loops = list(loops)
        self.started = False  # whether the workers run

    def get(self, name: str) -> BackgroundLoop | None:
        """The loop of that name, if there is one."""
        return next((loop for loop in [*self.base, *self.loops] if loop.name == name), None)

    def start(self, *, workers: bool = True) -> None:
        """Start the base loops, then (with `workers`) every worker, in order."""
        for loop in self.base:
            loop.start()
        if workers:
            for loop in self.loops:
                loop.start()
            self.started = True

    async def stop(self) -> None:
        """Stop every worker, last started first, then the base loops likewise; one failing
        to stop does not keep the others running."""
        self.started = False
        for loop in [*reversed(self.loops), *reversed(self.base)]:
            try:
                await loop.stop()
            except Exception as exc:  # the others must still stop
                log.error("background loop did not stop cleanly", loop=loop.name, error=str(exc))

    def wake(self) -> None:
        """Wake every worker (new work may be there)."""
        for loop in self.loops:
            loop.wake()
