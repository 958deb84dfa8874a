"""How the commands print: a table fitted to the terminal for people, tab-separated lines
when stdout is not a terminal, and JSON lines with `--json`.

In a table ids are shortened (8 characters, longer only where two rows would look alike)
and times are relative ("3m ago"); columns are dropped, least useful first, then truncated
until the table fits the terminal's width. Tab-separated output keeps every value whole.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

import msgspec

__all__ = [
    "Column",
    "emit_json",
    "print_table",
    "relative_time",
    "short_ids",
]

_encoder = msgspec.json.Encoder()
_GAP = 2  # spaces between table columns
_NARROWEST = 6  # a truncated column keeps at least this many characters
_TRUNCATED = 16  # how far a long text column is cut before any column is dropped
SHORT_ID = 8


class Column(NamedTuple):
    """A table column: its header, how its values read (`id`, `time`, `text`, `wrap`), and
    its drop rank: 0 never dropped, a higher rank is dropped before a lower one."""

    name: str
    kind: str = "text"
    drop: int = 0


def emit_json(items: Iterable[Any]) -> None:
    """Print each item as one line of JSON."""
    write = sys.stdout.write
    for item in items:
        write(_encoder.encode(item).decode() + "\n")


def print_table(
    title: str, columns: Sequence[Column], rows: Iterable[Sequence[Any]], *, empty: str = ""
) -> None:
    """Print rows: a fitted table on a terminal, tab-separated lines otherwise; `empty`
    (to stderr when piped, so a pipe sees no rows) when there are none."""
    text = [["" if cell is None else str(cell) for cell in row] for row in rows]
    terminal = sys.stdout.isatty()
    if not text:
        if empty:
            print(empty, file=sys.stdout if terminal else sys.stderr)
        return
    if not terminal:
        _print_tsv(columns, text)
        return
    _print_fitted(title, columns, text)


def _print_tsv(columns: Sequence[Column], rows: list[list[str]]) -> None:
    def clean(cell: str) -> str:
        return cell.replace("\t", " ").replace("\r", " ").replace("\n", " ")

    lines = ["\t".join(column.name for column in columns)]
    lines += ["\t".join(clean(cell) for cell in row) for row in rows]
    sys.stdout.write("\n".join(lines) + "\n")


def _print_fitted(title: str, columns: Sequence[Column], rows: list[list[str]]) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    out = Console(highlight=False)
    cells = _readable(columns, rows)
    keep, widths = fit(columns, cells, out.width)
    table = Table(
        title=title, title_justify="left", box=None, pad_edge=False, padding=(0, 1),
        header_style="bold", show_edge=False,
    )  # fmt: skip
    for index in keep:
        wraps = columns[index].kind == "wrap"
        table.add_column(
            columns[index].name, width=widths[index], no_wrap=not wraps,
            overflow="fold" if wraps else "ellipsis",
        )  # fmt: skip
    for row in cells:
        table.add_row(*(escape(row[index]) for index in keep))
    out.print(table)


def _readable(columns: Sequence[Column], rows: list[list[str]]) -> list[list[str]]:
    """Rows as a person reads them: short ids and relative times."""
    now = datetime.now(UTC)
    cells = [list(row) for row in rows]
    for index, column in enumerate(columns):
        values = [row[index] for row in rows]
        if column.kind == "id":
            shown = short_ids(values)
        elif column.kind == "time":
            shown = [relative_time(value, now) for value in values]
        else:
            continue
        for row, value in zip(cells, shown, strict=True):
            row[index] = value
    return cells


def fit(
    columns: Sequence[Column], cells: list[list[str]], width: int
) -> tuple[list[int], dict[int, int]]:
    """The columns to show and each one's width, so the table is at most `width` wide.

    Columns are dropped by rank only while the table would be too wide even with its long
    text columns cut to `_TRUNCATED`; the text columns then share the room left, the widest
    cut first.
    """
    widths = {
        i: max([len(column.name), *(len(line) for row in cells for line in row[i].splitlines())])
        for i, column in enumerate(columns)
    }
    keep = list(range(len(columns)))

    def cuttable(i: int) -> bool:
        return columns[i].kind in ("text", "wrap")

    def total(cut: bool = False) -> int:
        sizes = (min(widths[i], _TRUNCATED) if cut and cuttable(i) else widths[i] for i in keep)
        return sum(sizes) + _GAP * (len(keep) - 1)

    for index in sorted(keep, key=lambda i: -columns[i].drop):
        if total(cut=True) <= width or columns[index].drop == 0:
            break
        keep.remove(index)
    while total() > width:
        texts = sorted((i for i in keep if cuttable(i)), key=lambda i: -widths[i])
        if not texts or widths[texts[0]] <= _NARROWEST:
            break
        runner_up = max(widths[texts[1]] if len(texts) > 1 else 0, _NARROWEST)
        cut = min(total() - width, max(widths[texts[0]] - runner_up, 1))
        widths[texts[0]] -= cut
    return keep, widths


def short_ids(ids: Sequence[str]) -> list[str]:
    """The ids cut to their first 8 characters, or to as many more as tell them apart."""
    distinct = {value for value in ids if value}
    length = SHORT_ID
    while length < max(map(len, distinct), default=0):
        if len({value[:length] for value in distinct}) == len(distinct):
            break
        length += 1
    return [value[:length] for value in ids]


def relative_time(text: str, now: datetime) -> str:
    """An RFC 3339 time as `3m ago` (or `in 5m`); a date beyond 30 days; the text if it is
    not a time."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    seconds = (now - moment).total_seconds()
    ahead, seconds = seconds < 0, abs(seconds)
    if seconds >= 30 * 86400:
        return moment.date().isoformat()
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            amount = f"{int(seconds // size)}{unit}"
            break
    else:
        amount = f"{int(seconds)}s"
    return f"in {amount}" if ahead else f"{amount} ago"
