"""How every command finds its settings, `serve` included:

1. `--config/-c FILE` (before or after the subcommand),
2. `$VIDHOOK_CONFIG`,
3. `./vidhook.toml`,
4. the embedded default, whose state is `./vidhook.db`: used when that file exists, and
   created only by the commands that are meant to create a store (`serve`, `migrate`).

A command that only reads never creates a store: it says where it looked instead.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING

from vidhook.receiver.errors import ConfigError, Unreachable

if TYPE_CHECKING:
    from vidhook.receiver.config import Settings
    from vidhook.receiver.store import Store

__all__ = [
    "DEFAULT_CONFIG",
    "DEFAULT_STORE",
    "config_path",
    "open_configured_store",
    "require_store",
    "resolve_settings",
    "sqlite_file",
]

DEFAULT_CONFIG = "vidhook.toml"
DEFAULT_STORE = "vidhook.db"


def config_path(args: argparse.Namespace) -> str | None:
    """The config file this command runs on, or None for the embedded default."""
    named: str | None = getattr(args, "config", None) or os.environ.get("VIDHOOK_CONFIG")
    if named:
        return named
    return DEFAULT_CONFIG if Path(DEFAULT_CONFIG).is_file() else None


def nothing_found(command: str) -> ConfigError:
    """The error of a command that found no config and must not make a store."""
    here = Path.cwd()
    url_hint = ""
    if command in ("events", "show", "deliveries", "sinks", "rejected"):
        url_hint = (
            f"\n  or ask the running service: vidhook {command} --url http://HOST:8080"
            " with its admin token in VIDHOOK_TOKEN (or VIDHOOK_URL in the environment)"
        )
    return ConfigError(
        f"no config found: no --config/-c, no VIDHOOK_CONFIG, no ./{DEFAULT_CONFIG} and no"
        f" ./{DEFAULT_STORE} (the embedded default's store) in {here}.\n"
        f"  point it at the running service's config: vidhook {command} -c"
        " /etc/vidhook/vidhook.toml (or export VIDHOOK_CONFIG=...)"
        f"{url_hint}\n  this command does not create a store, so it made none here"
    )


async def resolve_settings(
    args: argparse.Namespace, *, create: bool = False
) -> tuple[Settings, bool]:
    """The settings to run with, and whether they are the embedded default.

    With `create` (serve, migrate) the embedded default's store is made when missing;
    otherwise finding nothing is a ConfigError that says where this looked. A command that
    opens a config file's store only to read it checks with `require_store` first.
    """
    from vidhook.receiver.config import load_settings

    path = config_path(args)
    if path:
        return load_settings(path), False
    if not create and not Path(DEFAULT_STORE).is_file():  # noqa: ASYNC240 - one stat
        raise nothing_found(getattr(args, "command", "vidhook"))
    return await embedded_default(f"sqlite:///{DEFAULT_STORE}"), True


async def embedded_default(store_url: str) -> Settings:
    """The embedded default, with its tokens kept in (or first written to) that store."""
    from vidhook.receiver.defaults import default_settings
    from vidhook.receiver.store import open_store

    store = open_store(store_url)
    await store.open()
    try:
        return await default_settings(store)
    finally:
        await store.close()


def open_configured_store(settings: Settings, origin: str | None) -> Store:
    """The store of `store.url`; an unusable URL is an error naming the config file."""
    from vidhook.receiver.store import open_store

    try:
        return open_store(settings.store.url)
    except ConfigError as exc:
        raise ConfigError(f"{origin or 'the embedded default'}: {exc.message}") from None


def sqlite_file(url: str) -> str | None:
    """The file of a `sqlite:///` URL (relative to the working folder), None for others."""
    if not url.startswith("sqlite://") or url == "sqlite://":
        return None
    if url.startswith("sqlite:////"):
        return url.removeprefix("sqlite:///")
    return url.removeprefix("sqlite://").removeprefix("/")


def require_store(url: str, origin: str) -> None:
    """Refuse to open (and so create) a SQLite store whose file does not exist."""
    file = sqlite_file(url)
    if file and not Path(file).exists():
        where = Path(file).resolve()
        raise Unreachable(
            f"{origin}: store.url {url} names {where}, which does not exist; a relative path"
            " is taken from the working folder, so run this where the service runs, or write"
            " an absolute path. This command creates no store; `vidhook migrate` does."
        )
