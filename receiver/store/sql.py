"""Named SQL queries kept in `.sql` files, in `-- name: NAME` blocks."""

from __future__ import annotations

import re
from importlib import resources

__all__ = ["dialect_queries", "load_queries", "migrations"]

_INCLUDE = re.compile(r"/\*\s*include\s+([a-z_][a-z0-9_]*)\s*\*/")
# The files of one dialect's statements: `{dialect}{part}.sql`.
_PARTS = ("", "_tasks", "_archive", "_sessions", "_groups", "_sinks", "_usage", "_digests")
_NAME = re.compile(r"^--\s*name:\s*([a-z_][a-z0-9_]*)\s*$", re.MULTILINE)


def load_queries(filename: str) -> dict[str, str]:
    """Read a `.sql` file of this package into a dict of query name to SQL text."""
    text = resources.files(__package__).joinpath(filename).read_text(encoding="utf-8")
    parts = _NAME.split(text)
    return {name: sql.strip() for name, sql in zip(parts[1::2], parts[2::2], strict=True)}


def dialect_queries(dialect: str) -> dict[str, str]:
    """Every named query of one dialect (the files `_PARTS` names) together, with each
    `/* include NAME */` replaced by the text of the block NAME (SQL text only, so two queries
    can share one WHERE clause)."""
    queries: dict[str, str] = {}
    for part in _PARTS:
        queries.update(load_queries(f"{dialect}{part}.sql"))
    return {
        name: _INCLUDE.sub(lambda match: queries[match.group(1)], sql)
        for name, sql in queries.items()
    }


def migrations(dialect: str) -> list[tuple[int, str]]:
    """The versioned migrations of one dialect, in order: (version, SQL script)."""
    folder = resources.files(__package__).joinpath("migrations")
    found = []
    for entry in folder.iterdir():
        match = re.fullmatch(rf"{dialect}_(\d{{4}})_\w+\.sql", entry.name)
        if match:
            found.append((int(match.group(1)), entry.read_text(encoding="utf-8")))
    return sorted(found)
