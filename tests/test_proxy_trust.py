"""One server-level `trusted_proxies` for every source, a source's own list overriding it, and
the rejection log naming the client behind the proxy, over a real socket."""

from __future__ import annotations

import asyncio

import pytest

from tests.conftest import fixture_bytes
from vidhook.receiver.config import parse_settings
from vidhook.receiver.errors import ConfigError
from vidhook.receiver.sources import build_sources

ADMIN = "admin-token-0123456789"
BODY = fixture_bytes("vibegen", "callback_completed")
CONFIG = f"""
[server]
trusted_proxies = ["127.0.0.1/32"]

[[api_tokens]]
name = "ops"
token = "{ADMIN}"
scopes = ["read"]

# Believes the server's proxies.
[sources.partner]
provider = "vibegen"
allow_ips = ["203.0.113.0/24"]

# Believes no proxy at all: its own empty list overrides the server's.
[sources.direct]
provider = "vibegen"
allow_ips = ["203.0.113.0/24"]
trusted_proxies = []
"""


@pytest.fixture
async def vidhook(vidhook_factory):
    return await vidhook_factory(CONFIG, run_workers=False)


async def _post(vidhook, path: str, forwarded: str) -> int:
    answer = await vidhook.client.post(path, content=BODY, headers={"X-Forwarded-For": forwarded})
    return answer.status_code


async def test_the_server_level_list_is_believed_by_sources_without_their_own(vidhook):
    assert await _post(vidhook, "/hooks/partner", "203.0.113.9") == 200
    assert await _post(vidhook, "/hooks/partner", "198.51.100.4") == 401
    # The forged hop on the left is not what counts: the proxy appended the real one.
    assert await _post(vidhook, "/hooks/partner", "203.0.113.9, 198.51.100.4") == 401


async def test_a_source_list_overrides_the_server_list(vidhook):
    assert await _post(vidhook, "/hooks/direct", "203.0.113.9") == 401


async def _rejected(vidhook, count: int) -> list[dict[str, object]]:
    headers = {"Authorization": f"Bearer {ADMIN}"}
    for _ in range(200):
        rows = (await vidhook.client.get("/admin/rejected", headers=headers)).json()["items"]
        if len(rows) >= count:
            return rows
        await asyncio.sleep(0.02)
    raise AssertionError(f"fewer than {count} rejections logged")


async def test_the_rejection_log_names_the_client_behind_the_proxy(vidhook):
    assert await _post(vidhook, "/hooks/partner", "198.51.100.4") == 401
    assert await _post(vidhook, "/hooks/no-such-source", "198.51.100.5") == 404
    assert await _post(vidhook, "/hooks/direct", "198.51.100.6") == 401
    clients = {row["source"]: row["client"] for row in await _rejected(vidhook, 3)}
    assert clients == {
        "partner": "198.51.100.4",
        "no-such-source": "198.51.100.5",  # an unknown source: the server-level list
        "direct": "127.0.0.1",  # this source believes no proxy, so the peer is the client
    }


def test_a_bad_server_level_range_fails_at_load():
    settings = parse_settings('[server]\ntrusted_proxies = ["10.0.0.0/33"]\n', env={})
    with pytest.raises(ConfigError, match=r"server\.trusted_proxies\[0\]: not a CIDR network"):
        build_sources(settings)
