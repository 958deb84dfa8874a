"""The dashboard's static files, from the package: its stylesheet and htmx (see NOTICE)."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from litestar import Response, get
from litestar.params import FromPath

from vidhook.receiver.errors import NotFound
from vidhook.receiver.ui.templating import HTMX_VERSION

__all__ = ["STATIC_FILES", "static_file"]

# Name under /ui/static/ -> media type. A versioned name may be cached for long.
STATIC_FILES: dict[str, str] = {
    "vidhook.css": "text/css; charset=utf-8",
    f"htmx-{HTMX_VERSION}.min.js": "text/javascript; charset=utf-8",
}


@cache
def _read(name: str) -> bytes:
    return (files("vidhook.receiver.ui") / "static" / name).read_bytes()


@get("/static/{name:str}", include_in_schema=False, sync_to_thread=False)
def static_file(name: FromPath[str]) -> Response[bytes]:
    """One of `STATIC_FILES`; any other name is 404."""
    media_type = STATIC_FILES.get(name)
    if media_type is None:
        raise NotFound(f"no static file {name[:64]!r}")
    cache_for = "max-age=604800, immutable" if "htmx-" in name else "max-age=300"
    return Response(
        _read(name),
        media_type=media_type,
        headers={"Cache-Control": f"public, {cache_for}", "X-Content-Type-Options": "nosniff"},
    )
