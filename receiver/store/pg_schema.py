"""PostgreSQL connection settings from `store.url`, and migrations run under an advisory lock."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from vidhook.receiver.errors import ConfigError
from vidhook.receiver.store.sql import migrations

__all__ = ["PgTarget", "migrate", "parse_target"]

# Any fixed number, the same in every vidhook: the instances that start together queue on it.
_MIGRATION_LOCK = 0x76696468  # "vidh"

# Options of `store.url` that vidhook reads itself; every other one goes to the driver.
_POOL_OPTIONS = ("pool_min", "pool_max")


@dataclass(frozen=True)
class PgTarget:
    """Where to connect and how big a pool to keep; `display` is the URL without a password."""

    dsn: str
    display: str
    pool_min: int = 1
    pool_max: int = 10


def parse_target(url: str) -> PgTarget:
    """Read `postgresql://user[:password]@host[:port]/db[?pool_max=N&pool_min=N&sslmode=...]`."""
    try:
        parts = urlsplit(url)
        _ = parts.port  # a port that is not a number raises here, not at the first connect
    except ValueError as exc:
        raise ConfigError(f"store.url: not a valid PostgreSQL URL ({exc})") from None
    query = dict(parse_qsl(parts.query))
    sizes: dict[str, int] = {}
    for option in _POOL_OPTIONS:
        if option in query:
            value = query.pop(option)
            if not value.isdigit() or int(value) < 1:
                raise ConfigError(f"store.url: {option} must be a whole number >= 1, not {value!r}")
            sizes[option] = int(value)
    dsn = urlunsplit(parts._replace(query=urlencode(query)))
    netloc = parts.netloc
    if parts.password is not None:
        netloc = netloc.replace(f":{parts.password}@", ":***@", 1)
    display = urlunsplit(parts._replace(netloc=netloc, query=urlencode(query)))
    target = PgTarget(dsn=dsn, display=display, **sizes)
    if target.pool_min > target.pool_max:
        raise ConfigError("store.url: pool_min must not exceed pool_max")
    return target


async def migrate(conn: Any) -> list[int]:
    """Apply the pending `postgres_NNNN_*.sql` migrations, each in its own transaction, while
    holding an advisory lock, so instances starting at once apply each migration exactly once.
    Pending means not yet recorded, not merely above the highest recorded version, so a
    migration added beside a later one is still applied. Returns the versions applied."""
    await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK)
    try:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_version (version integer PRIMARY KEY)"
        )
        done = {row[0] for row in await conn.fetch("SELECT version FROM schema_version")}
        applied = []
        for version, script in migrations("postgres"):
            if version not in done:
                async with conn.transaction():
                    await conn.execute(script)
                    await conn.execute("INSERT INTO schema_version VALUES ($1)", version)
                applied.append(version)
        return applied
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK)
