"""The store's dashboard sessions: created at login, read on each request, deleted at logout.

A session is kept under the SHA-256 of its cookie value, so what the database holds cannot be
replayed as a cookie. Expired sessions are never answered, and are deleted whenever a new
session is created.
"""

from __future__ import annotations

import msgspec

from vidhook.receiver.event import rfc3339_at
from vidhook.receiver.store.connector import Connector, Script, execute, fetch_one

__all__ = ["SessionRecord", "StoreSessions"]


class SessionRecord(msgspec.Struct, kw_only=True):
    """A live session: the API token's name, the forms' CSRF token and when it ends."""

    token_name: str
    csrf: str
    expires_at: float


def _create(key: str, record: SessionRecord, now: float) -> Script[None]:
    yield execute("prune_ui_sessions", now=now)
    yield execute(
        "create_ui_session",
        key=key,
        token_name=record.token_name,
        csrf=record.csrf,
        created_at=rfc3339_at(now),
        expires_at=record.expires_at,
    )


class StoreSessions:
    """The session side of `Store`, over the same connector."""

    connector: Connector

    async def create_session(self, key: str, record: SessionRecord, *, now: float) -> None:
        """Keep a new session under `key` (the hash of its cookie), dropping expired ones."""
        await self.connector.transaction(lambda: _create(key, record, now))

    async def get_session(self, key: str, *, now: float) -> SessionRecord | None:
        """The session kept under `key`, unless it has expired by `now`."""
        row = await self.connector.read(fetch_one("get_ui_session", key=key, now=now))
        return None if row is None else msgspec.convert(row, SessionRecord, strict=False)

    async def delete_session(self, key: str) -> None:
        """End the session kept under `key` (nothing happens if there is none)."""
        await self.connector.write(execute("delete_ui_session", key=key))
