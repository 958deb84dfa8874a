"""The grammar of `vidhook archive status|retry|rotate-key`."""

from __future__ import annotations

from typing import Any

from vidhook.receiver.cli.parser import CommandParser, add_common, command

__all__ = ["register"]


def register(commands: Any) -> None:
    """Add `vidhook archive` and its actions."""
    archive = commands.add_parser("archive", help="the archived videos: status, retry, keys")
    actions = archive.add_subparsers(
        dest="archive_command", required=True, metavar="ACTION", parser_class=CommandParser
    )
    status = command(
        actions, "status", "archive:run_status", "archive jobs, newest first, and their counts",
        ["vidhook archive status", "vidhook archive status --dead --json"],
    )  # fmt: skip
    add_common(status)
    status.add_argument("--dead", action="store_true", help="only the videos that gave up")
    status.add_argument("--event", metavar="ID", help="only the videos of event ID")
    status.add_argument("--limit", type=int, default=50, help="how many (default 50)")

    retry = command(
        actions, "retry", "archive:run_retry", "archive dead videos again",
        ["vidhook archive retry 0193a4f3-...", "vidhook archive retry --dead"],
    )  # fmt: skip
    add_common(retry)
    retry.add_argument("job_ids", nargs="*", metavar="ID", help="archive jobs to retry")
    retry.add_argument("--dead", action="store_true", help="retry every dead archive job")

    rotate = command(
        actions, "rotate-key", "archive:run_rotate_key",
        "sign new /media links with a new key; links already sent keep working until they expire",
        ["vidhook archive rotate-key"],
    )  # fmt: skip
    add_common(rotate)
