"""Dashboard sessions: kept under a key, answered until they expire, shared by every instance
on the database, and gone once deleted."""

from __future__ import annotations

from vidhook.receiver.store import Store
from vidhook.receiver.store.store_sessions import SessionRecord


async def test_a_session_is_answered_until_it_expires(store: Store) -> None:
    record = SessionRecord(token_name="ops", csrf="c" * 43, expires_at=1_000.0)
    await store.create_session("k1", record, now=900.0)
    assert await store.get_session("k1", now=999.0) == record
    assert await store.get_session("k1", now=1_000.0) is None
    assert await store.get_session("unknown", now=900.0) is None


async def test_another_instance_sees_the_session_and_logout_ends_it(store: Store, open_another):
    record = SessionRecord(token_name="viewer", csrf="x", expires_at=5_000.0)
    await store.create_session("k2", record, now=100.0)
    other = await open_another()
    assert await other.get_session("k2", now=200.0) == record
    await other.delete_session("k2")
    assert await store.get_session("k2", now=200.0) is None


async def test_creating_a_session_drops_expired_ones(store: Store) -> None:
    old = SessionRecord(token_name="a", csrf="1", expires_at=50.0)
    await store.create_session("old", old, now=1.0)
    await store.create_session(
        "new", SessionRecord(token_name="a", csrf="2", expires_at=500.0), now=60.0
    )
    # Asked as of a time before it expired, the old session is still gone: deleted.
    assert await store.get_session("old", now=10.0) is None
    assert await store.get_session("new", now=60.0) is not None
