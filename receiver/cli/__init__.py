"""The `vidhook` command. Each module of this package adds its subcommands."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from vidhook.receiver import __version__
from vidhook.receiver.cli import operate, service, tasks
from vidhook.receiver.errors import VidhookError

__all__ = ["main"]

# One line per module that adds subcommands.
COMMAND_MODULES = [service, operate, tasks]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="vidhook", description="Callback endpoint and event router for AI video APIs."
    )
    parser.add_argument("--version", action="version", version=f"vidhook {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; the exit code is 0 on success, 2 on a usage or config error."""
    args = build_parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except VidhookError as exc:
        print(f"vidhook: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
