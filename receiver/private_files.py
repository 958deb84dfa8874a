"""Files and directories vidhook creates, private to its user: files 0600, directories 0700.

The store holds hook and admin tokens (the no-config default keeps them there) and the events
hold what providers sent, so nothing vidhook creates may be readable by other users, whatever
the process umask. Modes are set explicitly on creation; a file or directory that already
exists keeps the mode its operator gave it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import structlog

__all__ = [
    "DIR_MODE",
    "FILE_MODE",
    "create_private_dirs",
    "open_private_append",
    "prepare_sqlite_file",
]

FILE_MODE = 0o600
DIR_MODE = 0o700
log = structlog.get_logger("vidhook.files")


def create_private_dirs(directory: Path) -> None:
    """Create `directory` and any missing parent, each 0700; existing ones are left alone."""
    missing = []
    for candidate in (directory, *directory.parents):
        if candidate.exists():
            break
        missing.append(candidate)
    for path in reversed(missing):
        try:
            path.mkdir(mode=DIR_MODE)
        except FileExistsError:  # created meanwhile by someone else: theirs to set
            continue
        path.chmod(DIR_MODE)  # mkdir's mode passes through the umask


def _create_private_file(path: Path, flags: int) -> int | None:
    """A new file opened with `flags`, mode 0600; None if it already exists."""
    create_private_dirs(path.parent)
    try:
        fd = os.open(path, flags | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return None
    os.fchmod(fd, FILE_MODE)  # os.open's mode passes through the umask
    return fd


def open_private_append(path: Path) -> int:
    """A file descriptor appending to `path`, creating it (and its directories) privately."""
    flags = os.O_WRONLY | os.O_APPEND
    fd = _create_private_file(path, flags)
    return fd if fd is not None else os.open(path, flags)


def prepare_sqlite_file(path: str) -> None:
    """Make a SQLite database file private before SQLite opens it.

    A new file is created 0600 (its directories 0700); SQLite gives its `-wal` and `-shm`
    files the database file's mode, so they follow. An existing file keeps its mode, with a
    warning when other users can read it.
    """
    if not path or path == ":memory:":
        return
    fd = _create_private_file(Path(path), os.O_WRONLY)
    if fd is not None:
        os.close(fd)
        return
    mode = stat.S_IMODE(os.stat(path).st_mode)
    if mode & 0o077:
        log.warning(
            "the database file is readable by other users; it holds tokens and events",
            path=path,
            mode=f"{mode:04o}",
            fix=f"chmod 600 {path}",
        )
