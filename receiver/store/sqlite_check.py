"""The start-up check of a SQLite file: a WAL SQLite would silently drop, then a bounded
`PRAGMA quick_check`. Both refuse to start with the file named and the way to recover.

What can be detected: a WAL whose header is damaged or written for another page size (SQLite
ignores the whole WAL, losing every commit not yet copied into the database), a damaged frame
followed by later commits (SQLite stops at the damage, losing those commits), and damaged
pages in the database itself. What cannot: a WAL that is whole but belongs to another database
or to an older copy of this one (after a backup was restored beside the live WAL). A WAL holds
no identity of its database, so SQLite replays it; the quick check then finds the damage only
if the replayed pages do not fit the database's structure.
"""

from __future__ import annotations

import os
import sqlite3
import struct
import time
from pathlib import Path

from vidhook.receiver.errors import StoreDamaged

__all__ = ["check_database", "check_wal"]

QUICK_CHECK_SECONDS = 10.0  # past this the check stops, unfinished, and start-up goes on
_WAL_MAGIC = (0x377F0682, 0x377F0683)  # little- or big-endian checksums
_HEADER, _FRAME_HEADER = 32, 24
_PASSED: dict[str, tuple[tuple[int, int], ...]] = {}

RECOVERY = (
    "Stop every vidhook using it, keep a copy of the file with its -wal and -shm files, then "
    "either restore the database from a backup, or rebuild it: "
    "`sqlite3 {path} '.recover' | sqlite3 {path}.recovered`, check it and move it into place. "
    "Remove a -wal file only when it is not this database's (for example one left beside a "
    "restored backup): the commits it holds are lost with it."
)


def check_database(path: str, *, seconds: float = QUICK_CHECK_SECONDS) -> None:
    """Raise StoreDamaged if the file at `path` (or its WAL) is damaged; a missing or empty
    file is a new database and passes. A file that passed in this process and has not changed
    since is not checked again (`vidhook serve` checks before it starts the app, which opens
    the store once more)."""
    if not Path(path).is_file() or Path(path).stat().st_size == 0:
        return  # new, or not a file at all: opening it reports that
    key = os.path.abspath(path)
    if _PASSED.get(key) == _state(path):
        return
    check_wal(path)
    _quick_check(path, seconds)
    _PASSED[key] = _state(path)


def _state(path: str) -> tuple[tuple[int, int], ...]:
    """What changes when the database or its WAL is written: their sizes and times."""
    found = []
    for name in (path, f"{path}-wal"):
        try:
            stat = os.stat(name)
        except FileNotFoundError:
            continue
        found.append((stat.st_size, stat.st_mtime_ns))
    return tuple(found)


def _quick_check(path: str, seconds: float) -> None:
    """`PRAGMA quick_check`, stopped unfinished (and passed) after `seconds`."""
    try:
        conn = sqlite3.connect(path, isolation_level=None)
    except sqlite3.Error:
        return  # cannot be opened at all: opening the store reports why
    deadline = time.monotonic() + seconds
    conn.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
    try:
        found = [row[0] for row in conn.execute("PRAGMA quick_check(5)")]
    except sqlite3.OperationalError:
        # Interrupted (a large file, unfinished within the bound), locked or unreadable: not
        # damage; the start goes on, and opening the store reports what is wrong.
        return
    except sqlite3.DatabaseError as exc:
        raise _damaged(path, str(exc)) from None
    finally:
        conn.close()
    if found != ["ok"]:
        raise _damaged(path, "; ".join(found).replace("\n", "; "))


def check_wal(path: str) -> None:
    """Raise StoreDamaged if `path`-wal holds commits SQLite would not replay."""
    wal = Path(f"{path}-wal")
    if not wal.exists() or wal.stat().st_size < _HEADER:
        return
    data = wal.read_bytes()
    magic, _version, page_size, _seq, salt1, salt2, sum1, sum2 = struct.unpack(
        ">8I", data[:_HEADER]
    )
    if magic not in _WAL_MAGIC:
        raise _damaged(path, f"{wal.name} does not start like a SQLite WAL")
    order = ">" if magic == _WAL_MAGIC[1] else "<"
    if _checksum(data[:24], order, (0, 0)) != (sum1, sum2):
        raise _damaged(path, f"{wal.name} has a damaged header")
    if page_size != _database_page_size(path):
        raise _damaged(path, f"{wal.name} was written for another page size")
    _check_frames(path, wal.name, data, page_size, order, (salt1, salt2), (sum1, sum2))


def _check_frames(
    path: str,
    name: str,
    data: bytes,
    page_size: int,
    order: str,
    salts: tuple[int, int],
    sums: tuple[int, int],
) -> None:
    """Walk the frames of the WAL's current generation; a damaged frame is fine only if no
    later frame of this generation ends a transaction (a torn last write, never acknowledged)."""
    size = _FRAME_HEADER + page_size
    damaged_at = None
    for start in range(_HEADER, len(data) - size + 1, size):
        header = struct.unpack(">6I", data[start : start + _FRAME_HEADER])
        if (header[2], header[3]) != salts:
            break  # a frame of an earlier generation: the current one ended before it
        if damaged_at is None:
            sums = _checksum(data[start : start + 8], order, sums)
            sums = _checksum(data[start + _FRAME_HEADER : start + size], order, sums)
            if sums != (header[4], header[5]):
                damaged_at = start
        elif header[1] != 0:  # a commit after the damage: SQLite would drop it
            raise _damaged(path, f"{name} is damaged at byte {damaged_at}, before later commits")


def _checksum(data: bytes, order: str, sums: tuple[int, int]) -> tuple[int, int]:
    """SQLite's WAL checksum of `data`, continued from `sums`."""
    s0, s1 = sums
    words = struct.unpack(f"{order}{len(data) // 4}I", data)
    for i in range(0, len(words), 2):
        s0 = (s0 + words[i] + s1) & 0xFFFFFFFF
        s1 = (s1 + words[i + 1] + s0) & 0xFFFFFFFF
    return s0, s1


def _database_page_size(path: str) -> int:
    with open(path, "rb") as file:
        header = file.read(100)
    if len(header) < 18:
        return -1
    size = int.from_bytes(header[16:18], "big")
    return 65536 if size == 1 else size


def _damaged(path: str, detail: str) -> StoreDamaged:
    where = os.path.abspath(path)
    return StoreDamaged(
        f"the SQLite database {where} is damaged ({detail}); vidhook will not start on it. "
        + RECOVERY.format(path=where)
    )
