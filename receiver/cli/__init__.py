"""The `vidhook` command: parse the line (`parser`), run the subcommand's function, and turn
errors into a message and one of the documented exit codes (`parser.EXIT_CODES`)."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence
from typing import Any

from vidhook.receiver.cli.parser import build_parser
from vidhook.receiver.errors import (
    BadRequest,
    ConfigError,
    NotFound,
    StoreUnavailable,
    Unreachable,
    VidhookError,
)

__all__ = ["exit_code", "main"]


def exit_code(error: VidhookError) -> int:
    """The documented exit code of an error: 2 usage, 3 config, 4 not found, 5 unreachable,
    1 anything else."""
    for kind, code in ((BadRequest, 2), (ConfigError, 3), (NotFound, 4)):
        if isinstance(error, kind):
            return code
    return 5 if isinstance(error, StoreUnavailable | Unreachable) else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit code."""
    parser = build_parser()
    if "_ARGCOMPLETE" in os.environ:  # the shell asks for completions; see `vidhook completion`
        import argcomplete

        argcomplete.autocomplete(parser)
    args = parser.parse_args(argv)
    try:
        code = _run(args)
        sys.stdout.flush()
    except VidhookError as exc:
        message = exc.message
        if isinstance(exc, ConfigError):
            from vidhook.receiver.config_positions import with_file_position

            message = with_file_position(message)
        print(f"vidhook: {message}", file=sys.stderr)
        return exit_code(exc)
    except BrokenPipeError:
        _silence_stdout()  # the reader left (`| head`): stop quietly, with no traceback
        return 1
    except KeyboardInterrupt:
        return 130
    return code


def _run(args: Any) -> int:
    module, function = args.run.split(":")
    run = getattr(importlib.import_module(f"vidhook.receiver.cli.{module}"), function)
    code: int = run(args)
    return code


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    sys.exit(main())
