"""The OpenAPI page at /schema: Redoc, served from a copy inside the package.

Litestar's default page loads Redoc, fonts and a favicon from outside hosts, so it is blank
offline and on networks that block them. The copy in `openapi_assets/` (see its NOTICE) is
served next to the page, on whichever listener serves /schema (the internal one when
`server.internal_port` is set).
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from litestar import Response, get
from litestar.openapi.plugins import RedocRenderPlugin

__all__ = ["REDOC_SCRIPT_PATH", "REDOC_VERSION", "redoc_script", "render_plugins"]

REDOC_VERSION = "2.5.4"
REDOC_SCRIPT_PATH = f"/schema/assets/redoc-{REDOC_VERSION}.standalone.js"


def render_plugins() -> list[RedocRenderPlugin]:
    """The page's renderer: Redoc at /schema and /schema/redoc, with no outside URL in it."""
    return [
        RedocRenderPlugin(
            js_url=REDOC_SCRIPT_PATH, google_fonts=False, favicon="", path=["/", "/redoc"]
        )
    ]


@cache
def _script() -> bytes:
    return (files("vidhook.receiver") / "openapi_assets" / "redoc.standalone.js").read_bytes()


@get(REDOC_SCRIPT_PATH, include_in_schema=False, sync_to_thread=False)
def redoc_script() -> Response[bytes]:
    """Redoc's standalone script. Its path holds the version, so it may be cached for long."""
    return Response(
        _script(),
        media_type="text/javascript; charset=utf-8",
        headers={"Cache-Control": "public, max-age=604800, immutable"},
    )
