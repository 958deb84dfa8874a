"""`vidhook serve`, `check`, `migrate` and `callback-url`."""

from __future__ import annotations

import argparse
import asyncio
import gc
import tomllib
from typing import Any

import msgspec
import uvicorn

from vidhook.receiver.app import build_services, create_app
from vidhook.receiver.cli.config_source import add_config_argument, config_path, resolve_settings
from vidhook.receiver.config import Settings, check_polled_sources, load_settings
from vidhook.receiver.errors import ConfigError, StoreUnavailable
from vidhook.receiver.logs import configure_logging
from vidhook.receiver.providers import PROVIDERS
from vidhook.receiver.sources import callback_url
from vidhook.receiver.store import Store, open_store
from vidhook.receiver.trust_check import trust_warnings

__all__ = ["register", "tune_gc"]

# Young-generation size for the cyclic collector. Each callback waiting for its commit holds a
# few dozen tracked objects, so with Python's default of 700 the collector ran every dozen or so
# requests under load, walking everything in flight: about a tenth of ingest's CPU.
_GC_YOUNG = 10_000
_CONNECT_SECONDS = 15.0


def register(commands: Any) -> None:
    """Add this module's subcommands."""
    serve = commands.add_parser("serve", help="run the server")
    add_config_argument(serve)
    serve.add_argument("--host", help="listen address (default: server.host)")
    serve.add_argument("--port", type=int, help="listen port (default: server.port)")
    serve.set_defaults(run=run_serve)

    check = commands.add_parser("check", help="validate config and rules; print the routes")
    add_config_argument(check)
    check.add_argument(
        "--show-secrets",
        action="store_true",
        help="print callback URLs with their whole token (masked to 4 characters by default)",
    )
    check.add_argument(
        "--connect", action="store_true", help="also open the store (as serve would) and ping it"
    )
    check.set_defaults(run=run_check)

    migrate = commands.add_parser("migrate", help="apply the store's schema migrations")
    add_config_argument(migrate)
    migrate.set_defaults(run=run_migrate)

    url = commands.add_parser("callback-url", help="print the callback URL for a source")
    add_config_argument(url)
    url.add_argument("source")
    url.set_defaults(run=run_callback_url)


def run_serve(args: argparse.Namespace) -> int:
    """Start vidhook and serve until interrupted."""
    settings, is_default = asyncio.run(resolve_settings(args))
    configure_logging(settings.log.level, settings.log.format)
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
    app = create_app(settings, config_path=config_path(args), handle_sighup=True)
    tune_gc()
    if is_default:
        _print_default_banner(settings)
    # proxy_headers=False: uvicorn would otherwise believe X-Forwarded-For from 127.0.0.1 and
    # rewrite the peer address, bypassing each source's own `trusted_proxies`.
    uvicorn.run(
        app, host=server.host, port=server.port, log_config=None, access_log=False,
        server_header=False, proxy_headers=False, lifespan="on", timeout_graceful_shutdown=15,
    )  # fmt: skip
    return 0


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
    print(f"  admin API token (Authorization: Bearer ...): {settings.api_tokens[0].token}")
    print("  write a config file to add sinks and rules: see deploy/vidhook.example.toml")


def run_check(args: argparse.Namespace) -> int:
    """Validate the config, sinks and rules without starting; print what would run."""
    path = config_path(args)
    if path is None:
        raise ConfigError("check needs --config FILE or VIDHOOK_CONFIG")
    settings = load_settings(path)
    check_polled_sources(settings, path)
    services = build_services(settings, config_path=path)
    print(f"{path}: OK")
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
    settings, _ = asyncio.run(resolve_settings(args))

    async def migrate() -> str:
        store = open_store(settings.store.url)
        await store.open()
        await store.close()
        return store.url  # without the password a PostgreSQL URL may carry

    print(f"migrated {asyncio.run(migrate())}")
    return 0


def run_callback_url(args: argparse.Namespace) -> int:
    """Print the callback URL of one source."""
    settings, _ = asyncio.run(resolve_settings(args))
    if args.source not in settings.sources:
        known = ", ".join(sorted(settings.sources))
        raise ConfigError(f"no source named {args.source!r}; configured: {known}")
    print(callback_url(settings, args.source))
    return 0
