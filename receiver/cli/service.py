"""`vidhook serve`, `check`, `migrate` and `callback-url`."""

from __future__ import annotations

import argparse
import asyncio
import gc
import socket
import sys
import tomllib

import msgspec

from vidhook.receiver.app import build_services, create_app
from vidhook.receiver.cli.config_source import (
    config_path,
    open_configured_store,
    resolve_settings,
)
from vidhook.receiver.config import (
    Settings,
    check_polled_sources,
    load_settings,
    unrecoverable_callbacks,
)
from vidhook.receiver.defaults import unsaved_default_settings
from vidhook.receiver.errors import StoreUnavailable, Unreachable
from vidhook.receiver.listeners import serve
from vidhook.receiver.logs import configure_logging
from vidhook.receiver.providers import PROVIDERS
from vidhook.receiver.sources import callback_url
from vidhook.receiver.store import Store, check_store
from vidhook.receiver.suggestions import unknown_name
from vidhook.receiver.trust_check import trust_warnings

__all__ = ["run_callback_url", "run_check", "run_migrate", "run_serve", "tune_gc"]

# Young-generation size for the cyclic collector. Each callback waiting for its commit holds a
# few dozen tracked objects, so with Python's default of 700 the collector ran every dozen or so
# requests under load, walking everything in flight: about a tenth of ingest's CPU.
_GC_YOUNG = 10_000
_CONNECT_SECONDS = 15.0


def run_serve(args: argparse.Namespace) -> int:
    """Start vidhook and serve until interrupted."""
    settings, is_default = asyncio.run(resolve_settings(args, create=True))
    configure_logging(settings.log.level, settings.log.format)
    require_free_port(args.host or settings.server.host, args.port or settings.server.port)
    server = settings.server
    if args.host or args.port:
        server = msgspec.structs.replace(
            server, host=args.host or server.host, port=args.port or server.port
        )
        if not _explicit_public_url(args):
            server = msgspec.structs.replace(
                server, public_url=f"http://{_printable(server.host)}:{server.port}"
            )
        settings = msgspec.structs.replace(settings, server=server)
    check_store(settings.store.url)  # a damaged file: refuse here, with the way to recover
    app = create_app(settings, config_path=config_path(args), handle_sighup=True)
    tune_gc()
    if is_default:
        _print_default_banner(settings)
    return serve(app, server)


def require_free_port(host: str, port: int) -> None:
    """Refuse to start when the listen address is taken, before anything says "started"."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # As the server's own socket does: a port left in TIME_WAIT is free, a listener is not.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise Unreachable(
                f"cannot listen on {host}:{port}: {exc.strerror}; is vidhook already running?"
                " pick another port with --port or server.port"
            ) from None


def tune_gc() -> None:
    """Set the cyclic collector up for a long-running server: what exists once the app is built
    (modules, config, routes) lives as long as the process, so it is frozen out of every
    collection, and the young generation is collected less often (`_GC_YOUNG`).

    Under load the default settings spent about 50 us of CPU per callback collecting, with a
    full collection of ~40 ms now and then; after this, a few young collections a minute.
    """
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(_GC_YOUNG, middle, old)


def _explicit_public_url(args: argparse.Namespace) -> bool:
    """Whether the config file sets server.public_url (a comment naming it does not count)."""
    path = config_path(args)
    if not path:
        return False
    with open(path, "rb") as file:
        server = tomllib.load(file).get("server", {})
    return isinstance(server, dict) and "public_url" in server


def _printable(host: str) -> str:
    """The listen address as a URL host: a wildcard as loopback, IPv6 in brackets."""
    if host in ("0.0.0.0", "::", ""):  # noqa: S104
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def _print_default_banner(settings: Settings) -> None:
    print("vidhook is running on its embedded default (no config file).")
    print(f"  store: {settings.store.url}; events go to the log and ./events.jsonl")
    print("  callback URLs (give each to its provider as callback_url):")
    for name, source in settings.sources.items():
        kind = "callback" if PROVIDERS[source.provider].calls_back else "polled"
        print(f"    {name:12} {callback_url(settings, name)}  ({kind})")
    if settings.archive is not None:
        where = settings.archive.store.removeprefix("file://")
        print(f"  videos: kept in {where} (events carry signed /media links in archived_urls)")
    print(f"  admin API token (Authorization: Bearer ...): {settings.api_tokens[0].token}")
    print("  write a config file to add sinks and rules: vidhook config example > vidhook.toml")


def run_check(args: argparse.Namespace) -> int:
    """Validate the config, sinks and rules without starting; print what would run."""
    path = config_path(args)
    if path is None:
        settings = unsaved_default_settings()  # makes no store here
        print("no config file found (--config/-c, VIDHOOK_CONFIG, ./vidhook.toml):")
    else:
        settings = load_settings(path)
        check_polled_sources(settings, path)
    services = build_services(settings, config_path=path)
    print(f"{path or 'the embedded default'}: OK")
    print(f"sources ({len(services.sources)}):")
    # Masked by default: the systemd unit runs check before each start, into the journal.
    masked = not args.show_secrets
    for name, source in services.sources.items():
        print(f"  {name} [{source.config.provider}] {callback_url(settings, name, masked=masked)}")
    print(f"sinks ({len(services.sinks)}): {', '.join(sorted(services.sinks)) or '-'}")
    print("rules:")
    print(services.rules.current.describe())
    for warning in trust_warnings(settings):
        print(f"warning: {warning}")
    asyncio.run(services.http.aclose())
    if args.connect:
        print(f"store: {asyncio.run(_reach(services.store))} answers")
    if path is not None:  # the embedded default has no keys, and says so at start
        for warning in unrecoverable_callbacks(settings):
            print(f"warning: {warning}", file=sys.stderr)
    return 0


async def _reach(store: Store) -> str:
    """Open the store as `serve` does (pending migrations applied), ping it, close it; return its
    printable URL, or raise StoreUnavailable saying why it cannot be reached."""
    try:
        await asyncio.wait_for(store.open(), _CONNECT_SECONDS)
        try:
            await asyncio.wait_for(store.ping(), _CONNECT_SECONDS)
        finally:
            await store.close()
    except StoreUnavailable:
        raise
    except TimeoutError:
        raise StoreUnavailable(
            f"the store {store.url} did not answer within {_CONNECT_SECONDS:g} s"
        ) from None
    except Exception as exc:  # a SQLite path that cannot be opened, and the like
        raise StoreUnavailable(f"cannot open the store {store.url}: {exc}") from None
    return store.url


def run_migrate(args: argparse.Namespace) -> int:
    """Open the store, which applies any pending migration, and report its URL."""
    settings, _ = asyncio.run(resolve_settings(args, create=True))

    async def migrate() -> str:
        store = open_configured_store(settings, config_path(args))
        await store.open()
        await store.close()
        return store.url  # without the password a PostgreSQL URL may carry

    print(f"migrated {asyncio.run(migrate())}")
    return 0


def run_callback_url(args: argparse.Namespace) -> int:
    """Print the callback URL of one source."""
    settings, _ = asyncio.run(resolve_settings(args))
    if args.source not in settings.sources:
        raise unknown_name("source", args.source, settings.sources)
    print(callback_url(settings, args.source))
    return 0
