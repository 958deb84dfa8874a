"""Optional filter terms, `(:name IS NULL OR condition)`, settled before a database plans them.

A listing that filters by whichever fields are set writes each field as an optional term, so
one named statement serves every combination. Neither database can use an index through such
a term: SQLite plans a statement before its parameters are bound, and PostgreSQL's generic plan
must hold for NULL too. So the connectors run a variant of the statement in which every
optional term is settled by its parameter: `TRUE` when the parameter is None, the bare
condition when it is set. The two mean the same; only the plan changes. Variants are cached per
statement and per set of absent parameters, and values stay bound parameters.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Generic, TypeVar

__all__ = ["Variants", "optional_names", "settle"]

T = TypeVar("T")

# `(:name IS NULL OR ` with an optional `::type` cast after the name (PostgreSQL's spelling).
_TERM = re.compile(r"\(:([a-z_][a-z0-9_]*)(?:::[a-z ]+?)? IS NULL OR ")
_MAX_VARIANTS = 1024


def _closing(sql: str, start: int) -> int:
    """The index of the parenthesis that closes the one at `start` (quotes skipped)."""
    depth, i, quoted = 0, start, False
    while i < len(sql):
        char = sql[i]
        if char == "'":
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise ValueError(f"unbalanced optional term at {sql[start : start + 60]!r}")


def optional_names(sql: str) -> tuple[str, ...]:
    """The parameters that have optional terms in `sql`, each once, in order."""
    return tuple(dict.fromkeys(match.group(1) for match in _TERM.finditer(sql)))


def settle(sql: str, absent: frozenset[str]) -> str:
    """`sql` with each optional term settled: `TRUE` for a parameter in `absent`, else the
    term's condition alone."""
    out: list[str] = []
    at = 0
    while (match := _TERM.search(sql, at)) is not None:
        end = _closing(sql, match.start())
        inner = settle(sql[match.end() : end], absent)
        out.append(sql[at : match.start()])
        out.append("TRUE" if match.group(1) in absent else f"({inner})")
        at = end + 1
    out.append(sql[at:])
    return "".join(out)


class Variants(Generic[T]):
    """Each named statement's variants, built by `build` from the settled SQL text and
    cached: `for_params(name, params)` answers the one for these parameters."""

    def __init__(self, statements: Mapping[str, str], build: Callable[[str], T]) -> None:
        self._sql = dict(statements)
        self._build = build
        self._names = {name: optional_names(sql) for name, sql in self._sql.items()}
        self._plain = {name: build(sql) for name, sql in self._sql.items()}
        self._cache: dict[tuple[str, frozenset[str]], T] = {}

    def plain(self, name: str) -> T:
        """The statement as written, with its optional terms unsettled."""
        return self._plain[name]

    def for_params(self, name: str, params: Mapping[str, object]) -> T:
        names = self._names[name]
        if not names:
            return self._plain[name]
        absent = frozenset(n for n in names if params.get(n) is None)
        key = (name, absent)
        found = self._cache.get(key)
        if found is None:
            if len(self._cache) >= _MAX_VARIANTS:
                self._cache.clear()
            found = self._cache[key] = self._build(settle(self._sql[name], absent))
        return found
