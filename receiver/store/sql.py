"""Named SQL queries kept in `.sql` files, in `-- name: NAME` blocks."""

from __future__ import annotations

import re
from importlib import resources

__all__ = ["load_queries", "migrations"]

_NAME = re.compile(r"^--\s*name:\s*([a-z_][a-z0-9_]*)\s*$", re.MULTILINE)


def load_queries(filename: str) -> dict[str, str]:
    """Read a `.sql` file of this package into a dict of query name to SQL text."""
    text = resources.files(__package__).joinpath(filename).read_text(encoding="utf-8")
    parts = _NAME.split(text)
    return {name: sql.strip() for name, sql in zip(parts[1::2], parts[2::2], strict=True)}


def migrations(dialect: str) -> list[tuple[int, str]]:
    """The versioned migrations of one dialect, in order: (version, SQL script)."""
    folder = resources.files(__package__).joinpath("migrations")
    found = []
    for entry in folder.iterdir():
        match = re.fullmatch(rf"{dialect}_(\d{{4}})_\w+\.sql", entry.name)
        if match:
            found.append((int(match.group(1)), entry.read_text(encoding="utf-8")))
    return sorted(found)
