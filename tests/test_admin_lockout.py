"""Failed admin API logins over a real socket: logged with the client's address and never the
token, and after ten from one address that address gets 429 with Retry-After until the lockout
ends, whatever token it sends, while other addresses go on."""

from __future__ import annotations

import httpx
import pytest
import structlog

from tests.stored_events import ADMIN, CONFIG, bearer

WRONG = "wrong-token-guess-0123456789"
# The lockout is judged by the client address: through a trusted proxy, the one it forwards.
TRUSTING = CONFIG.replace(
    "[[api_tokens]]", '[server]\ntrusted_proxies = ["127.0.0.1/32"]\n\n[[api_tokens]]', 1
)


@pytest.fixture
async def vidhook(vidhook_factory):
    assert TRUSTING != CONFIG
    return await vidhook_factory(TRUSTING, run_workers=False)


def _from(address: str, token: str) -> dict[str, str]:
    return {**bearer(token), "X-Forwarded-For": address}


async def test_wrong_tokens_lock_the_address_out_and_are_logged_without_the_token(vidhook):
    clock = [1_000_000.0]
    vidhook.services.clock = lambda: clock[0]
    with structlog.testing.capture_logs() as logs:
        for _ in range(9):
            answer = await vidhook.client.get("/admin/events", headers=_from("198.51.100.7", WRONG))
            assert answer.status_code == 401
        assert (await vidhook.client.get("/admin/events", headers=bearer(ADMIN))).status_code == 200
        tenth = await vidhook.client.get("/admin/events", headers=_from("198.51.100.7", WRONG))
        assert tenth.status_code == 401
        locked = await vidhook.client.get("/admin/events", headers=_from("198.51.100.7", ADMIN))
    assert locked.status_code == 429
    assert locked.json()["error"]["code"] == "rate_limited"
    assert int(locked.headers["retry-after"]) == 300
    refused = [entry for entry in logs if entry["event"] == "api login refused"]
    assert len(refused) == 10
    assert {entry["client"] for entry in refused} == {"198.51.100.7"}
    assert [entry["locked_out"] for entry in refused] == [False] * 9 + [True]
    assert WRONG not in repr(logs)
    # Another address is not held up, with a good token or a bad one.
    assert (
        await vidhook.client.get("/admin/events", headers=_from("203.0.113.9", ADMIN))
    ).status_code == 200
    assert (
        await vidhook.client.get("/admin/events", headers=_from("203.0.113.9", WRONG))
    ).status_code == 401
    clock[0] += 299
    still = await vidhook.client.get("/admin/events", headers=_from("198.51.100.7", ADMIN))
    assert (still.status_code, still.headers["retry-after"]) == (429, "1")
    clock[0] += 1
    assert (
        await vidhook.client.get("/admin/events", headers=_from("198.51.100.7", ADMIN))
    ).status_code == 200
    # After the lockout the count starts again: one wrong token is a 401, not a new lockout.
    answer = await vidhook.client.get("/admin/events", headers=_from("198.51.100.7", WRONG))
    assert answer.status_code == 401


async def test_a_forwarded_address_from_an_untrusted_peer_does_not_dodge_the_lockout(
    vidhook_factory,
):
    vidhook = await vidhook_factory(CONFIG, run_workers=False)  # no trusted proxies
    for n in range(10):
        answer = await vidhook.client.get("/admin/events", headers=_from(f"192.0.2.{n}", WRONG))
        assert answer.status_code == 401
    # Every guess counted against the real peer, 127.0.0.1, whatever it claimed.
    answer = await vidhook.client.get("/admin/events", headers=_from("192.0.2.99", ADMIN))
    assert answer.status_code == 429


async def test_the_submit_api_is_guarded_too(vidhook):
    async with httpx.AsyncClient(base_url=vidhook.url) as client:
        for _ in range(10):
            answer = await client.post(
                "/v1/submit/vibegen", json={}, headers=_from("198.51.100.8", WRONG)
            )
            assert answer.status_code == 401
        answer = await client.post(
            "/v1/submit/vibegen", json={}, headers=_from("198.51.100.8", WRONG)
        )
    assert answer.status_code == 429
