"""The shipped example config stays valid: every option it shows decodes and checks."""

from __future__ import annotations

import re
from pathlib import Path

from vidhook.receiver.app import build_services
from vidhook.receiver.config import load_settings

EXAMPLE = Path(__file__).parent.parent / "deploy" / "vidhook.example.toml"


async def test_example_config_loads_with_every_secret_set():
    names = set(re.findall(r"\$\{([A-Z_]+)\}", EXAMPLE.read_text()))
    env = {name: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" for name in names}
    env["SLACK_WEBHOOK_URL"] = "https://hooks.slack.com/services/T0/B0/x"
    settings = load_settings(EXAMPLE, env=env)
    services = build_services(settings, config_path=str(EXAMPLE))
    try:
        assert set(services.sources) >= {"vibegen", "partner", "videoapi"}
        assert set(services.sinks) == {"ops-slack", "ops-email", "app", "audit", "log"}
        assert len(services.rules.current) == 4
    finally:
        await services.http.aclose()
