"""Named PostgreSQL queries: `:name` parameters in the `.sql` file, asyncpg's `$n` on the wire."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["PgQuery", "compile_query", "pg_value"]

# `:name`, but not the second colon of a `::type` cast.
_PARAM = re.compile(r"(?<![:\w]):([a-z_][a-z0-9_]*)")


@dataclass(frozen=True, slots=True)
class PgQuery:
    """One query in asyncpg's positional form and the parameter name of each position."""

    sql: str
    names: tuple[str, ...]

    def args(self, params: Mapping[str, object]) -> list[object]:
        """The positional arguments for `params`, each made storable by `pg_value`."""
        return [pg_value(params[name]) for name in self.names]


def pg_value(value: object) -> object:
    """A value PostgreSQL can hold. Its text type cannot hold NUL, which callbacks may carry
    in any string, so NUL becomes U+FFFD in text columns; bodies keep the exact bytes."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd") if "\x00" in value else value
    if isinstance(value, list):
        return [pg_value(item) for item in value]
    return value


def compile_query(sql: str) -> PgQuery:
    """A query with `:name` parameters in asyncpg's positional form."""
    names: list[str] = []

    def position(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    return PgQuery(_PARAM.sub(position, sql), tuple(names))
