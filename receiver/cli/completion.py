"""`vidhook completion bash|zsh|fish`: the shell's completion script.

The script asks `vidhook` itself for candidates (argcomplete), so completion always knows
the installed version's commands and options.
"""

from __future__ import annotations

import argparse
import sys

from argcomplete.shell_integration import shellcode

__all__ = ["run_completion"]


def run_completion(args: argparse.Namespace) -> int:
    """Print the completion script for `args.shell`."""
    sys.stdout.write(shellcode(["vidhook"], shell=args.shell))
    return 0
