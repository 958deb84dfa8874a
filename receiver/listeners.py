"""`serve()`: vidhook's listeners in one process and one event loop, around one app lifespan.

The public listener (`server.host:port`) serves everything, or with `server.internal_port` set
only the public routes (`create_public_app`), the internal listener then serving everything.
Which app answers is decided by the socket that accepted the connection. Both share the one
lifespan (store, worker, background tasks), which starts before either accepts and stops after
both have finished their requests in flight.
"""

from __future__ import annotations

import asyncio
import resource
import signal
import socket
from typing import Any

import msgspec
import structlog
import uvicorn
from uvicorn.lifespan.off import LifespanOff
from uvicorn.lifespan.on import LifespanOn

from vidhook.receiver.app import VidhookApp, create_public_app
from vidhook.receiver.config import ServerConfig
from vidhook.receiver.edge_protocol import EdgeConfig, EdgeLimits
from vidhook.receiver.errors import ConfigError

__all__ = ["serve"]

log = structlog.get_logger("vidhook")

# Seconds that requests in flight get to finish after SIGTERM before they are cancelled.
GRACEFUL_STOP_SECONDS = 15

# The same for every listener. proxy_headers=False: uvicorn would otherwise believe
# X-Forwarded-For from 127.0.0.1 and rewrite the peer address, bypassing each source's own
# `trusted_proxies`.
_OPTIONS: dict[str, Any] = {
    "lifespan": "off", "log_config": None, "access_log": False, "server_header": False,
    "proxy_headers": False, "ws": "none", "timeout_graceful_shutdown": GRACEFUL_STOP_SECONDS,
}  # fmt: skip


def serve(app: VidhookApp, server: ServerConfig) -> int:
    """Serve `app` on the configured listeners until SIGTERM or SIGINT; the exit code."""
    config = uvicorn.Config(app, lifespan="on", log_config=None)
    with asyncio.Runner(loop_factory=config.get_loop_factory()) as runner:
        return runner.run(_serve(app, server))


async def _serve(app: VidhookApp, server: ServerConfig) -> int:
    listeners = [(server.host, server.port, app)]
    if server.internal_port is not None:
        listeners = [
            (server.host, server.port, create_public_app(app)),
            (server.internal_host, server.internal_port, app),
        ]
    limits = _fit_open_files(EdgeLimits.from_config(server), len(listeners))
    sockets = [_bind(host, port) for host, port, _ in listeners]
    lifespan = LifespanOn(uvicorn.Config(app, lifespan="on", log_config=None))
    await lifespan.startup()
    if lifespan.should_exit:
        return 3  # the lifespan has logged why
    servers = []
    for sock, (_, _, listener_app) in zip(sockets, listeners, strict=True):
        uvicorn_server = uvicorn.Server(EdgeConfig(listener_app, limits, **_OPTIONS))
        uvicorn_server.config.load()
        uvicorn_server.lifespan = LifespanOff(uvicorn_server.config)
        await uvicorn_server.startup(sockets=[sock])
        servers.append(uvicorn_server)
    addresses = {"public": _address(sockets[0]), "internal": None}
    if len(sockets) > 1:
        addresses["internal"] = _address(sockets[1])
    log.info("vidhook listening", **addresses)
    _stop_on_signals(servers)
    await asyncio.gather(*(each.main_loop() for each in servers))
    await asyncio.gather(
        *(each.shutdown(sockets=[sock]) for each, sock in zip(servers, sockets, strict=True))
    )
    await lifespan.shutdown()
    log.info("vidhook stopped", **addresses)
    return 0


# Open files kept for the store, logs, outbound HTTP and sinks when connections use the rest.
_FILES_KEPT = 64


def _fit_open_files(limits: EdgeLimits, listeners: int) -> EdgeLimits:
    """The limits with `max_connections` lowered to what the process's open-file limit holds,
    so that past it a client gets the cap's 503 rather than a connection nobody accepts."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return limits
    room = max(1, (soft - _FILES_KEPT) // listeners)
    if limits.max_connections <= room:
        return limits
    log.warning(
        "server.max_connections lowered to fit the open-file limit (ulimit -n)",
        configured=limits.max_connections, max_connections=room, open_file_limit=soft,
    )  # fmt: skip
    return msgspec.structs.replace(limits, max_connections=room)


def _bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket, so an address in use fails before the store is opened."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        sock = socket.create_server((host, port), family=family, backlog=2048)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    return sock


def _address(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _stop_on_signals(servers: list[uvicorn.Server]) -> None:
    """SIGTERM or SIGINT stops accepting and lets requests in flight finish; a second one
    cancels them."""

    def stop() -> None:
        for each in servers:
            each.force_exit = each.should_exit
            each.should_exit = True

    loop = asyncio.get_running_loop()
    for number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(number, stop)
