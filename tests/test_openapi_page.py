"""The OpenAPI page at /schema works offline: Redoc's script comes from vidhook itself, on the
internal listener with the page, and the page names no outside URL."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from serve_process import ServeProcess
from sink_servers import free_port

from vidhook.receiver.openapi_page import REDOC_SCRIPT_PATH, REDOC_VERSION

pytestmark = pytest.mark.slow

ASSETS = Path(__file__).resolve().parents[1] / "receiver" / "openapi_assets"


@pytest.fixture
async def served(tmp_path: Path) -> tuple[ServeProcess, int]:
    """A `vidhook serve` with an internal listener; the process and the internal port."""
    internal = free_port()
    config = tmp_path / "vidhook.toml"
    config.write_text(
        f"[server]\ninternal_port = {internal}\n"
        f'[store]\nurl = "sqlite:///{tmp_path / "vidhook.db"}"\n'
    )
    server = ServeProcess(config, tmp_path / "serve.log")
    await server.start()
    yield server, internal
    server.stop()


def _references(html: str) -> list[str]:
    """Every URL the page loads: src and href attributes, and CSS url(...)."""
    return re.findall(r"""(?:src|href)\s*=\s*["']([^"']*)["']|url\(([^)]*)\)""", html)


async def test_the_schema_page_loads_redoc_from_vidhook_only(served):
    server, internal = served
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{internal}") as client:
        page = await client.get("/schema")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        head = page.text.split("<body", 1)[0]  # the body holds the schema itself, URLs and all
        references = [ref for pair in _references(head) for ref in pair if ref]
        assert references == [REDOC_SCRIPT_PATH]
        assert "://" not in head
        assert "Redoc.init(" in page.text

        script = await client.get(REDOC_SCRIPT_PATH)
        assert script.status_code == 200
        assert script.headers["content-type"].startswith("text/javascript")
        assert script.content == (ASSETS / "redoc.standalone.js").read_bytes()
        assert b"Redoc" in script.content[:2000]

        spec = await client.get("/schema/openapi.json")
        assert spec.status_code == 200 and spec.json()["info"]["title"] == "vidhook"

    async with httpx.AsyncClient(base_url=server.url) as public:
        assert (await public.get(REDOC_SCRIPT_PATH)).status_code == 404  # with /schema, inside


def test_the_vendored_redoc_records_its_version_and_license():
    notice = (ASSETS / "NOTICE").read_text()
    assert f"redoc@{REDOC_VERSION}" in notice and "MIT" in notice
    assert "MIT License" in (ASSETS / "redoc.LICENSE").read_text()
    assert (ASSETS / "redoc.standalone.js.LICENSE.txt").exists()
