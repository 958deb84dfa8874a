"""`vidhook config example`: the full example config, shipped inside the package."""

from __future__ import annotations

import argparse
import sys
from importlib.resources import files

__all__ = ["example_config", "run_example"]


def example_config() -> str:
    """The example config's text: every option, commented (deploy/ links to this same file)."""
    return files("vidhook.receiver").joinpath("vidhook.example.toml").read_text(encoding="utf-8")


def run_example(args: argparse.Namespace) -> int:
    """Print the example config."""
    sys.stdout.write(example_config())
    return 0
