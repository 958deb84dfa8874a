"""The LISTEN connection that wakes this instance's workers when any instance adds deliveries."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import asyncpg
import structlog

__all__ = ["CHANNEL", "DeliveryListener"]

CHANNEL = "vidhook_deliveries"
log = structlog.get_logger("vidhook.store")


class DeliveryListener:
    """Holds one connection in `LISTEN vidhook_deliveries` and calls `wake` on each notification
    from another instance (this one's own commits wake its workers directly).

    A lost connection is reopened with backoff; after each (re)connect `wake` runs once, since
    notifications sent while it was down are gone and workers should look for themselves.
    """

    def __init__(self, dsn: str, origin: str, wake: Callable[[], None]) -> None:
        self._dsn = dsn
        self._origin = origin
        self._wake = wake
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Connect once (so a wrong address fails `open`), then keep the connection up."""
        conn = await self._connect()
        self._task = asyncio.create_task(self._supervise(conn), name="vidhook-pg-listener")

    async def stop(self) -> None:
        """Stop listening and close the connection."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _connect(self) -> Any:
        conn = await asyncpg.connect(self._dsn, timeout=10)
        await conn.add_listener(CHANNEL, self._on_notify)
        return conn

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        if payload != self._origin:
            self._wake()

    async def _supervise(self, conn: Any) -> None:
        while True:
            await self._hold(conn)
            log.warning("LISTEN connection lost; reconnecting")
            conn = await self._reconnect()

    async def _hold(self, conn: Any) -> None:
        """Wake the workers once, then wait until the connection is lost."""
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _conn: lost.set())
        try:
            self._wake()
            await lost.wait()
        finally:
            with contextlib.suppress(OSError, TimeoutError, asyncpg.InterfaceError):
                await conn.close(timeout=2)

    async def _reconnect(self) -> Any:
        pause = 0.5
        while True:
            await asyncio.sleep(pause)
            try:
                return await self._connect()
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                pause = min(pause * 2, 30.0)
                log.warning("LISTEN reconnect failed", error=str(exc), retry_in=pause)
