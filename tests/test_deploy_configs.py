"""The configs shipped in deploy/ for PostgreSQL stay valid as the config format evolves."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from vidhook.receiver.app import build_services
from vidhook.receiver.config import parse_settings

DEPLOY = Path(__file__).parent.parent / "deploy"
ENV = {
    "VIDHOOK_DOMAIN": "hooks.example.com",
    "VIDHOOK_DATABASE_URL": "postgresql://vidhook:pw@postgres:5432/vidhook",
    "VIDHOOK_ADMIN_TOKEN": "an-admin-token-of-some-length",
    "VIBEGEN_HOOK_TOKEN": "vibegen-token-0123456789",
    "ARK_HOOK_TOKEN": "ark-token-0123456789",
    "APP_WEBHOOK_URL": "https://app.example.com/video-events",
    "APP_WHSEC": "whsec_MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIz",
    "VIDHOOK_PROXY_ADDRESS": "172.30.47.10",
}


def _configmap_toml() -> str:
    """The vidhook.toml block of the Kubernetes ConfigMap."""
    text = (DEPLOY / "k8s" / "configmap.yaml").read_text()
    return textwrap.dedent(text.split("vidhook.toml: |\n", 1)[1])


@pytest.mark.parametrize("name", ["compose", "kubernetes"])
async def test_the_shipped_postgres_configs_load_and_build(name):
    compose = (DEPLOY / "vidhook.postgres.toml").read_text()
    text = compose if name == "compose" else _configmap_toml()
    settings = parse_settings(text, origin=name, env=ENV)
    assert settings.store.url.startswith("postgresql://")
    services = build_services(settings)  # sinks and rules are checked here, nothing connects
    try:
        assert services.store.url == "postgresql://vidhook:***@postgres:5432/vidhook"
        assert services.sinks["app"].config.lease_margin == 30
        assert [rule.name for rule in settings.rules] == ["everything-to-app"]
    finally:
        await services.http.aclose()
