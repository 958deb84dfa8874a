"""The LISTEN connection that wakes this instance's workers when any instance adds deliveries."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import asyncpg
import structlog

from vidhook.receiver.background import Loop

__all__ = ["CHANNEL", "DeliveryListener"]

CHANNEL = "vidhook_deliveries"
log = structlog.get_logger("vidhook.store")

_CONNECT_ERRORS = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)
_FIRST_PAUSE = 0.5
_LONGEST_PAUSE = 30.0


class DeliveryListener(Loop):
    """Holds one connection in `LISTEN vidhook_deliveries` and calls `wake` on each notification
    from another instance (this one's own commits wake its workers directly).

    A loop like the workers (run by the same supervisor, a failing round logged and retried):
    each round holds the connection until it is lost or the loop stops, waking the workers
    once first, since notifications sent while it was down are gone and workers should look
    for themselves; a lost connection is reopened with backoff. The connector's `open` makes
    the first connection (`connect`), so a wrong address fails there.
    """

    name = "pg-listener"
    failure = "LISTEN connection failed; reconnecting"

    def __init__(self, dsn: str, origin: str, wake: Callable[[], None]) -> None:
        super().__init__(idle_wait=_FIRST_PAUSE)
        self._dsn = dsn
        self._origin = origin
        self._on_wake = wake
        self._conn: Any = None
        self._release: asyncio.Event | None = None
        self._closing = False
        self._pause = _FIRST_PAUSE

    async def connect(self) -> None:
        """Open the LISTEN connection (the first one; later ones are the loop's)."""
        self._conn = await self._listen()

    async def stop(self, grace: float | None = None) -> None:
        """Let go of the connection, end the loop and close the connection."""
        self._closing = True
        if self._release is not None:
            self._release.set()
        await super().stop(grace)
        self._closing = False

    async def disconnect(self) -> None:
        """Close the connection, if one is open (the connector's `close`)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(OSError, TimeoutError, asyncpg.InterfaceError):
                await conn.close(timeout=2)

    async def run_once(self) -> float:
        """Connect if need be, then hold the connection until it is lost or the loop stops;
        returns the pause before reconnecting."""
        if self._conn is None:
            try:
                self._conn = await self._listen()
            except _CONNECT_ERRORS as exc:
                self._pause = min(self._pause * 2, _LONGEST_PAUSE)
                log.warning("LISTEN reconnect failed", error=str(exc), retry_in=self._pause)
                return self._pause
            self._pause = _FIRST_PAUSE
        try:
            await self._hold(self._conn)
        finally:
            await self.disconnect()
        if not self._closing:
            log.warning("LISTEN connection lost; reconnecting")
        return self._pause

    async def drain(self, grace: float) -> None:
        """Close the connection held when the loop stopped (or never started)."""
        await self.disconnect()

    async def _listen(self) -> Any:
        conn = await asyncpg.connect(self._dsn, timeout=10)
        await conn.add_listener(CHANNEL, self._on_notify)
        return conn

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        if payload != self._origin:
            self._on_wake()

    async def _hold(self, conn: Any) -> None:
        """Wake the workers once, then wait until the connection is lost or the loop stops."""
        release = self._release = asyncio.Event()
        conn.add_termination_listener(lambda _conn: release.set())
        if self._closing or conn.is_closed():
            return
        self._on_wake()
        await release.wait()
