"""How every command finds its settings: `--config`, `VIDHOOK_CONFIG`, or the default."""

from __future__ import annotations

import argparse
import os

from vidhook.receiver.config import Settings, load_settings
from vidhook.receiver.defaults import default_settings, default_store_url
from vidhook.receiver.store import open_store

__all__ = ["add_config_argument", "config_path", "resolve_settings"]


def add_config_argument(parser: argparse.ArgumentParser) -> None:
    """Add `--config FILE` to a subcommand."""
    parser.add_argument(
        "--config",
        "-c",
        metavar="FILE",
        help="config file (default: $VIDHOOK_CONFIG, else the embedded default)",
    )


def config_path(args: argparse.Namespace) -> str | None:
    """The config file named on the command line or in the environment, if any."""
    path: str | None = args.config or os.environ.get("VIDHOOK_CONFIG") or None
    return path


async def resolve_settings(args: argparse.Namespace) -> tuple[Settings, bool]:
    """The settings to run with, and whether they are the embedded default."""
    path = config_path(args)
    if path:
        return load_settings(path), False
    store = open_store(default_store_url())
    await store.open()
    try:
        return await default_settings(store), True
    finally:
        await store.close()
