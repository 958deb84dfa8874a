"""The small protocol the store runs on: named statements, transactions of them, and a wake hook.

The store's rules are written once, as transaction scripts: generators that yield the
statements they need and receive each one's result. A connector runs a script in one
transaction in its own way (SQLite on its group-commit writer's thread, PostgreSQL on a pooled
connection), so the rules never know which database is underneath:

    def rename(old: str, new: str) -> Script[bool]:
        row = yield fetch_one("thing", name=old)
        if row is None:
            return False
        yield execute("rename_thing", old=old, new=new)
        return True

Statement names are `-- name:` blocks of the dialect's `.sql` files; both dialects have the same
names and column aliases, so rows map by name into the records in `records.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeVar

from vidhook.receiver.background import BackgroundLoop

__all__ = [
    "WAKE",
    "Connector",
    "Row",
    "Script",
    "Statement",
    "execute",
    "fetch_all",
    "fetch_one",
    "result_of",
]

T = TypeVar("T")
Row = dict[str, Any]
Kind = Literal["all", "one", "count", "wake"]


@dataclass(frozen=True, slots=True)
class Statement:
    """One named statement and its parameters; `kind` says what its result is: every row
    (`all`), the first row or None (`one`), or how many rows it changed (`count`). `wake` is
    no SQL: it asks the connector to wake every worker once the transaction commits."""

    name: str
    params: Mapping[str, Any]
    kind: Kind


# A transaction script: yields statements, receives each one's result, returns its own.
Script = Generator[Statement, Any, T]

WAKE = Statement("wake", {}, "wake")


def fetch_all(name: str, **params: Any) -> Statement:
    """The statement `name`, answered with every row it returns."""
    return Statement(name, params, "all")


def fetch_one(name: str, **params: Any) -> Statement:
    """The statement `name`, answered with its first row, or None."""
    return Statement(name, params, "one")


def execute(name: str, **params: Any) -> Statement:
    """The statement `name`, answered with how many rows it changed."""
    return Statement(name, params, "count")


class Connector(Protocol):
    """A database the store can run statements and transaction scripts on.

    `read` runs a statement that only reads. `write` runs one statement in a transaction of
    its own and `transaction` a whole script in one; both answer once the commit is done.
    `transaction` takes a function that starts the script, because a connector may start it
    again when it retries the transaction (SQLite's group commit does, after a neighbour's
    failure rolled back the batch).
    `durable=False` lets a connector skip the disk flush for writes that may be lost with the
    machine (see SqliteConnector). A script that yields `WAKE` tells every worker, of this
    instance and of any other on the same database, that deliveries are due once it commits;
    `on_wake` registers this instance's workers.
    `loops` are the connector's own background loops (SQLite's writer, PostgreSQL's listener),
    in start order: they run between `open` and `close` under the opener's supervisor.
    """

    url: str
    loops: Sequence[BackgroundLoop]

    async def open(self) -> None: ...
    async def close(self) -> None: ...
    async def read(self, statement: Statement) -> Any: ...
    async def write(self, statement: Statement, *, durable: bool = True) -> Any: ...
    async def transaction(self, script: Callable[[], Script[T]], *, durable: bool = True) -> T: ...
    def on_wake(self, callback: Callable[[], None]) -> None: ...


def result_of(statement: Statement, rows: list[Row], count: int) -> Any:
    """What a statement of `statement.kind` answers, given its rows and changed-row count."""
    if statement.kind == "all":
        return rows
    if statement.kind == "one":
        return rows[0] if rows else None
    return count
