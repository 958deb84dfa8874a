"""`create_app()`: the one place a vidhook instance is wired together."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, cast

import httpx
import structlog
from litestar import Litestar, MediaType, Response, get
from litestar.config.app import AppConfig
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.enums import ScopeType
from litestar.openapi.config import OpenAPIConfig
from litestar.types import (
    HTTPScope,
    LifeSpanReceive,
    LifeSpanScope,
    LifeSpanSend,
    Receive,
    Scope,
    Send,
)
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from vidhook.receiver import __version__
from vidhook.receiver.admin import API_SECURITY, admin_router
from vidhook.receiver.admin.events import replayer
from vidhook.receiver.api_auth import TokenTable
from vidhook.receiver.background import Supervisor
from vidhook.receiver.config import Settings, load_settings
from vidhook.receiver.errors import ConfigError, StoreUnavailable
from vidhook.receiver.handler_parts import Clock, handler_dependencies
from vidhook.receiver.hook_route import HookRoute
from vidhook.receiver.hooks import HookParts, receive_callback
from vidhook.receiver.http_client import shared_client
from vidhook.receiver.http_errors import error_response, exception_handlers
from vidhook.receiver.json_request import MAX_JSON_DEPTH_KEY, JsonLimitedRequest
from vidhook.receiver.media import serve_media
from vidhook.receiver.metrics import Metrics
from vidhook.receiver.openapi_page import redoc_script, render_plugins
from vidhook.receiver.request_id import RequestIdMiddleware
from vidhook.receiver.services import Services
from vidhook.receiver.sources import build_sources
from vidhook.receiver.store import Store, open_store
from vidhook.receiver.task_api import TASK_HANDLERS
from vidhook.receiver.ui import ui_router
from vidhook.routes.rules import RuleHolder, RuleSet, load_rules
from vidhook.routes.sinks import build_sinks
from vidhook.routes.sinks.base import SinkContext
from vidhook.routes.worker import OutboxWorker

__all__ = ["PUBLIC_HANDLERS", "VidhookApp", "build_services", "create_app", "create_public_app"]

# Routers and handlers beyond the callback endpoint and health: one entry per API module.
API_HANDLERS: list[Any] = [admin_router, *TASK_HANDLERS, ui_router]

log = structlog.get_logger("vidhook")


def build_services(
    settings: Settings,
    *,
    store: Store | None = None,
    http: httpx.AsyncClient | None = None,
    clock: Callable[[], float] = time.time,
    config_path: str | None = None,
) -> Services:
    """Validate and build everything but the running tasks; config errors surface here."""
    http = http or shared_client()
    origin = config_path or "<config>"
    try:
        context = SinkContext(http=http, public_url=settings.server.public_url)
        sinks = build_sinks(settings.sinks, context)
        sources = build_sources(settings)
        store = store or open_store(settings.store.url)
    except ConfigError as exc:  # these name the key; the file is named here
        raise ConfigError(f"{origin}: {exc.message}") from None

    def rules_loader() -> RuleSet:
        # A reload re-reads the config file, so edits to its [[rules]] take effect too.
        current = load_settings(config_path) if config_path else settings
        return load_rules(current, config_origin=origin, known_sinks=set(sinks))

    initial = load_rules(settings, config_origin=origin, known_sinks=set(sinks))
    rules = RuleHolder(rules_loader, initial)
    services = Services(
        settings=settings,
        store=store,
        sources=sources,
        rules=rules,
        http=http,
        sinks=sinks,
        clock=clock,
        config_path=config_path,
    )
    return services


@get("/healthz", summary="Process is up", tags=["health"], sync_to_thread=False)
def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@get("/readyz", summary="Store can commit and worker running", tags=["health"])
async def readyz(
    store: NamedDependency[Store],
    supervisor: NamedDependency[Supervisor],
    outbox: NamedDependency[OutboxWorker],
) -> Response[Any]:
    """Readiness: the store can commit a write now and the delivery worker runs."""
    try:
        await store.ready()
    except StoreUnavailable as exc:
        return error_response(exc)
    if supervisor.started and not outbox.running:
        return error_response(StoreUnavailable("the delivery worker is not running"))
    return Response({"status": "ready"})


@get("/metrics", summary="Prometheus metrics", tags=["health"], media_type=MediaType.TEXT)
async def metrics(
    store: NamedDependency[Store],
    metrics: NamedDependency[Metrics],
    clock: NamedDependency[Clock],
    settings: NamedDependency[Settings],
) -> Response[bytes]:
    """Prometheus text exposition."""
    depth, oldest = await store.outbox_depth()
    metrics.outbox_depth.set(depth)
    now = clock()
    metrics.oldest_pending_age.set(max(0.0, now - oldest) if oldest else 0.0)
    open_tasks, overdue = await store.task_counts(now)
    metrics.tasks_open.set(open_tasks)
    metrics.tasks_overdue.set(overdue)
    if settings.archive is not None:
        metrics.archive_backlog.set((await store.archive_counts()).pending)
    body = generate_latest(metrics.registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


class VidhookApp(Litestar):
    """Litestar with the callback endpoint served before routing (see `hook_route`): the
    busiest path skips the framework's request cycle; every other path goes through it."""

    hook_route: HookRoute

    async def __call__(
        self,
        scope: Scope | LifeSpanScope,
        receive: Receive | LifeSpanReceive,
        send: Send | LifeSpanSend,
    ) -> None:
        if scope["type"] == ScopeType.HTTP:
            http = cast("HTTPScope", scope)
            request = self.hook_route.claim(http)
            if request is not None:
                hooks = self.hook_route
                await hooks.serve(http, cast("Receive", receive), cast("Send", send), request)
                return
        await super().__call__(scope, receive, send)


# What the public listener serves when the private surfaces have their own listener.
PUBLIC_HANDLERS: list[Any] = [receive_callback, serve_media, healthz, readyz]


def _lifespan(
    services: Services, *, run_workers: bool, handle_sighup: bool, owns_http: bool
) -> Callable[[Litestar], AbstractAsyncContextManager[None]]:
    """The app's lifespan, in dependency order: the store opens, then the supervisor starts
    the store's own loops and the background loops; on the way out every loop stops (the
    store's writer or listener last) before the store closes."""

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        await services.store.open(run_loops=False)  # the supervisor runs the store's loops
        services.store.on_new_deliveries(services.outbox.wake)
        services.supervisor.start(workers=run_workers)
        if handle_sighup:
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, services.reload_rules)
        log.info("vidhook started", store=services.store.url, sources=len(services.sources))
        try:
            yield
        finally:
            await services.supervisor.stop()
            if services.archive is not None:
                await services.archive.backend.close()
            await services.store.close()
            if owns_http:
                await services.http.aclose()

    return lifespan


def create_app(
    settings: Settings,
    *,
    store: Store | None = None,
    http: httpx.AsyncClient | None = None,
    clock: Callable[[], float] = time.time,
    config_path: str | None = None,
    run_workers: bool = True,
    handle_sighup: bool = False,
    services: Services | None = None,
) -> VidhookApp:
    """Build the Litestar app for one vidhook instance."""
    services = services or build_services(
        settings, store=store, http=http, clock=clock, config_path=config_path
    )

    lifespan = _lifespan(
        services, run_workers=run_workers, handle_sighup=handle_sighup, owns_http=http is None
    )
    hook_route = HookRoute(
        HookParts(
            sources=services.sources,
            intake=services.intake,
            metrics=services.metrics,
            clock=services.clock,
            server=services.settings.server,
            record_rejection=services.record_rejection,
        )
    )
    app = VidhookApp(
        route_handlers=[*PUBLIC_HANDLERS, metrics, *API_HANDLERS, redoc_script],
        dependencies=handler_dependencies(services, replayer=replayer(services)),
        exception_handlers=exception_handlers,
        lifespan=[lifespan],
        middleware=[RequestIdMiddleware],
        request_max_body_size=settings.server.max_body_bytes,
        request_class=JsonLimitedRequest,
        state=State(
            {
                "services": services,
                "api_tokens": TokenTable(settings.api_tokens, settings.server.trusted_proxies),
                MAX_JSON_DEPTH_KEY: settings.server.max_json_depth,
                "hook_route": hook_route,
            }
        ),
        openapi_config=OpenAPIConfig(
            title="vidhook",
            version=__version__,
            path="/schema",
            components=API_SECURITY,
            render_plugins=render_plugins(),
        ),
        on_app_init=[_no_litestar_logging],
        debug=False,
    )
    app.hook_route = hook_route
    return app


def create_public_app(app: VidhookApp) -> VidhookApp:
    """The app of the public listener when `server.internal_port` is set: only
    `PUBLIC_HANDLERS`, over the same services as `app`, whose lifespan runs them.

    Everything else is absent here rather than refused by path, so no spelling of a private
    path (`/metrics/`, `/metrics%2F`, `//admin`) reaches it through the public port.
    """
    services: Services = app.state["services"]
    public = VidhookApp(
        route_handlers=PUBLIC_HANDLERS,
        dependencies=app.dependencies,
        exception_handlers=exception_handlers,
        middleware=[RequestIdMiddleware],
        request_max_body_size=services.settings.server.max_body_bytes,
        state=State({"services": services, "api_tokens": app.state["api_tokens"]}),
        openapi_config=None,
        on_app_init=[_no_litestar_logging],
        debug=False,
    )
    public.hook_route = app.hook_route  # the same raw callback route, over the same services
    return public


def _no_litestar_logging(config: AppConfig) -> AppConfig:
    config.logging_config = None
    return config
