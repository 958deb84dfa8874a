"""The admin API under `/admin`: every call needs `Authorization: Bearer` with an API token
holding the scope the handler names (`read` to look, `admin` to change)."""

from __future__ import annotations

from litestar import Router
from litestar.openapi.spec import Components, SecurityScheme

from vidhook.receiver.admin.archive import ArchiveController
from vidhook.receiver.admin.deliveries import DeliveriesController
from vidhook.receiver.admin.events import EventsController, ReplayController
from vidhook.receiver.admin.rejected import RejectedController
from vidhook.receiver.admin.rules import RulesController
from vidhook.receiver.admin.sinks import SinksController
from vidhook.receiver.admin.sources import SourcesController
from vidhook.receiver.admin.usage import UsageController
from vidhook.receiver.api_auth import require_scope

__all__ = ["API_SECURITY", "admin_router"]

# The OpenAPI security scheme every API token call uses, for the app's schema components.
API_SECURITY = Components(
    security_schemes={
        "bearer": SecurityScheme(
            type="http",
            scheme="bearer",
            description="An API token from `[[api_tokens]]`; each call names the scope it needs.",
        )
    }
)

admin_router = Router(
    path="/admin",
    guards=[require_scope],
    security=[{"bearer": []}],
    route_handlers=[
        EventsController,
        ReplayController,
        DeliveriesController,
        SinksController,
        RejectedController,
        SourcesController,
        RulesController,
        ArchiveController,
        UsageController,
    ],
)
