"""`/admin/sources`: the configured sources and the callback URL to give each provider."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.di import NamedDependency

from vidhook.receiver.admin.schemas import SourceList, SourceView
from vidhook.receiver.api_auth import TokenTable
from vidhook.receiver.config import Settings, SourceConfig
from vidhook.receiver.handler_parts import Sources
from vidhook.receiver.http_errors import errors
from vidhook.receiver.sources import callback_url

__all__ = ["SourcesController", "checks_of"]


def checks_of(config: SourceConfig) -> list[str]:
    """How a source's callbacks are verified, in `verified_by` words."""
    named = [
        ("ip", bool(config.allow_ips)),
        ("token", bool(config.tokens)),
        ("hmac", config.hmac is not None),
        ("standard-webhooks", config.standard_webhooks is not None),
        ("provider-api", config.confirm),
    ]
    return [name for name, on in named if on]


class SourcesController(Controller):
    """Configured sources."""

    path = "/sources"
    tags = ["admin: sources"]

    @get("/", opt={"scope": "read"}, summary="List sources", responses=errors())
    async def list_sources(
        self,
        request: Request[Any, Any, Any],
        sources_by_name: NamedDependency[Sources],
        settings: NamedDependency[Settings],
    ) -> SourceList:
        """Each source's provider, checks and callback URL. The URL's token is a secret that
        lets anyone post callbacks, so only tokens with the `admin` scope see it. Scope: read."""
        tokens: TokenTable = request.app.state.api_tokens
        caller = tokens.authenticate(request.headers.get("authorization"))
        reveal = "admin" in caller.scopes
        items = []
        for name, source in sources_by_name.items():
            url = None
            if source.provider.calls_back:
                url = callback_url(settings, name)
                if source.config.tokens and not reveal:
                    url = url.rsplit("/", 1)[0] + "/[redacted]"
            items.append(
                SourceView(
                    name=name,
                    provider=source.config.provider,
                    callback_url=url,
                    checks=checks_of(source.config),
                    confirm=source.config.confirm,
                )
            )
        return SourceList(items=items)
