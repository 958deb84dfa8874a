"""Stored request headers: a header whose name looks like a credential is never stored or
shown, whatever its exact name; only headers that help debugging keep their values."""

from __future__ import annotations

import pytest

from tests.conftest import fixture_bytes
from tests.stored_events import READER, bearer
from tests.test_receive_fixtures import CONFIG, TOKENS
from vidhook.receiver.stored_headers import stored_headers

SECRET_NAMES = [
    "x-auth-token", "api-key", "x-webhook-secret", "x-access-token", "x-token", "x-api-key",
    "authorization", "proxy-authorization", "cookie", "x-session-id", "x-password",
    "x-credentials", "x-hub-signature-256", "x-vibegen-sig", "x-csrf-token", "x-trace-token",
]  # fmt: skip
SECRET = "s3cr3t-value-that-must-not-be-stored"
CONFIG_WITH_READER = CONFIG + f'\n[[api_tokens]]\nname = "viewer"\ntoken = "{READER}"\n'


@pytest.mark.parametrize("name", SECRET_NAMES)
async def test_a_secret_looking_header_is_neither_stored_nor_shown(vidhook_factory, name):
    vidhook = await vidhook_factory(CONFIG_WITH_READER)
    headers = {name: SECRET, "content-type": "application/json"}

    answer = await vidhook.client.post(
        f"/hooks/vibegen/{TOKENS['vibegen']}",
        content=fixture_bytes("vibegen", "callback_completed"),
        headers=headers,
    )

    assert answer.status_code == 200, answer.text
    event_id = answer.json()["id"]
    raw = await vidhook.services.store.get_raw(event_id)
    assert raw.headers[name] == "[redacted]"
    shown = await vidhook.client.get(f"/admin/events/{event_id}", headers=bearer(READER))
    assert shown.status_code == 200, shown.text
    assert shown.json()["raw"]["headers"][name] == "[redacted]"
    assert SECRET not in shown.text


async def test_headers_that_help_debugging_keep_their_values(vidhook_factory):
    vidhook = await vidhook_factory(CONFIG)
    headers = {
        "content-type": "application/json",
        "user-agent": "vibegen-webhooks/1.2",
        "x-request-id": "req-42",
        "x-forwarded-for": "203.0.113.9",
        "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "x-custom": "something else",
    }

    answer = await vidhook.client.post(
        f"/hooks/vibegen/{TOKENS['vibegen']}",
        content=fixture_bytes("vibegen", "callback_completed"),
        headers=headers,
    )

    raw = await vidhook.services.store.get_raw(answer.json()["id"])
    for name, value in headers.items():
        expected = "[redacted]" if name == "x-custom" else value
        assert raw.headers[name] == expected, name


def test_rows_stored_before_are_redacted_again_when_shown():
    old = {"x-auth-token": SECRET, "user-agent": "ua", "x-custom": "v", "x-hmac": "[redacted]"}

    assert stored_headers(old) == {
        "x-auth-token": "[redacted]",
        "user-agent": "ua",
        "x-custom": "[redacted]",
        "x-hmac": "[redacted]",
    }


def test_a_kept_value_is_cut_at_a_kibibyte():
    assert stored_headers({"User-Agent": "u" * 5000}) == {"user-agent": "u" * 1024}
