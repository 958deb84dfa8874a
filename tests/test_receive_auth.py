"""Every authentication mode over HTTP: right, wrong, missing, expired and rotated secrets.

Each request goes to the real app on a loopback socket; a pass is a 200 with the event's
`verified_by`, a failure a 401 whose message says what is wrong and holds no secret.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import time
from datetime import UTC, datetime
from typing import Any

import pytest
import standardwebhooks

from tests.conftest import fixture_bytes
from vidhook.receiver.store.records import EventFilter

BODY = fixture_bytes("vibegen", "callback_completed")
TOKEN_OLD = "tok-old-4f1c2b9a"
TOKEN_NEW = "tok-new-8e7d6c5b"
HMAC_SECRET = "hmac-secret-0a9b8c7d"
HMAC_ROTATED = "hmac-rotated-1f2e3d4c"
WHSEC = "whsec_" + base64.b64encode(b"partner-standard-webhooks-key!!!").decode()
WHSEC_ROTATED = "whsec_" + base64.b64encode(b"rotated-standard-webhooks-key!!!").decode()
SECRETS = (TOKEN_OLD, TOKEN_NEW, HMAC_SECRET, HMAC_ROTATED, WHSEC, WHSEC_ROTATED)

CONFIG = f"""
[sources.tokened]
provider = "vibegen"
tokens = ["{TOKEN_OLD}", "{TOKEN_NEW}"]

[sources.hex]
provider = "vibegen"
hmac = {{ secret = ["{HMAC_SECRET}", "{HMAC_ROTATED}"] }}

[sources.b64]
provider = "vibegen"
hmac = {{ header = "X-Hub-Sig", secret = "{HMAC_SECRET}", encoding = "base64" }}

[sources.sha512]
provider = "vibegen"
hmac = {{ secret = "{HMAC_SECRET}", algorithm = "sha512", prefix = "sha512=" }}

[sources.stamped]
provider = "vibegen"
hmac = {{ secret = "{HMAC_SECRET}", template = "{{timestamp}}.{{body}}", \
timestamp_header = "X-Timestamp", tolerance = 300 }}

[sources.standard]
provider = "vibegen"
standard_webhooks = {{ secret = ["{WHSEC}", "{WHSEC_ROTATED}"] }}

[sources.local-only]
provider = "vibegen"
allow_ips = ["127.0.0.0/8"]

[sources.elsewhere-only]
provider = "vibegen"
allow_ips = ["203.0.113.0/24"]

[sources.proxied]
provider = "vibegen"
allow_ips = ["203.0.113.0/24"]
trusted_proxies = ["127.0.0.1/32", "10.0.0.0/8"]

[sources.everything]
provider = "vibegen"
tokens = ["{TOKEN_NEW}"]
allow_ips = ["127.0.0.1/32"]
hmac = {{ secret = "{HMAC_SECRET}" }}
standard_webhooks = {{ secret = "{WHSEC}" }}
"""


@pytest.fixture
async def vidhook(vidhook_factory: Any) -> Any:
    return await vidhook_factory(CONFIG)


def sign(secret: str, message: bytes, algorithm: str = "sha256") -> bytes:
    return hmac.new(secret.encode(), message, algorithm).digest()


def standard_headers(secret: str, body: bytes = BODY, at: float | None = None) -> dict[str, str]:
    """Headers signed by the Standard Webhooks reference library."""
    moment = time.time() if at is None else at
    signed_at = datetime.fromtimestamp(moment, UTC)
    message_id = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"
    signature = standardwebhooks.Webhook(secret).sign(message_id, signed_at, body.decode())
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(moment)),
        "webhook-signature": signature,
    }


async def accepted(vidhook: Any, url: str, headers: dict[str, str] | None = None) -> list[str]:
    """Post the body expecting 200; return the stored event's `verified_by`."""
    answer = await vidhook.client.post(url, content=BODY, headers=headers or {})
    assert answer.status_code == 200, answer.text
    stored = await vidhook.services.store.get_event(answer.json()["id"])
    assert stored is not None
    verified: list[str] = stored.event.verified_by
    return verified


async def refused(vidhook: Any, url: str, headers: dict[str, str] | None = None) -> str:
    """Post the body expecting 401; return the message, checked to hold no secret."""
    answer = await vidhook.client.post(url, content=BODY, headers=headers or {})
    assert answer.status_code == 401, answer.text
    error = answer.json()["error"]
    assert error["code"] == "unauthorized"
    for secret in SECRETS:
        assert secret not in answer.text
    message: str = error["message"]
    return message


# URL tokens


@pytest.mark.parametrize("token", [TOKEN_OLD, TOKEN_NEW], ids=["old", "new"])
@pytest.mark.parametrize("where", ["path", "query"])
async def test_every_token_of_a_rotation_passes_in_path_or_query(
    vidhook: Any, token: str, where: str
) -> None:
    url = f"/hooks/tokened/{token}" if where == "path" else f"/hooks/tokened?token={token}"
    assert await accepted(vidhook, url) == ["token"]


async def test_missing_token_says_where_it_goes(vidhook: Any) -> None:
    message = await refused(vidhook, "/hooks/tokened")
    assert "missing URL token" in message
    assert "?token=" in message


@pytest.mark.parametrize(
    "url",
    ["/hooks/tokened/tok-old-4f1c2b9", "/hooks/tokened?token=nope", "/hooks/tokened/%20"],
)
async def test_wrong_token_is_refused(vidhook: Any, url: str) -> None:
    assert "does not match" in await refused(vidhook, url)


async def test_a_retired_token_stops_working_after_rotation(vidhook_factory: Any) -> None:
    rotated = await vidhook_factory(CONFIG.replace(f'"{TOKEN_OLD}", ', ""))
    assert await accepted(rotated, f"/hooks/tokened/{TOKEN_NEW}") == ["token"]
    assert "does not match" in await refused(rotated, f"/hooks/tokened/{TOKEN_OLD}")


# HMAC


@pytest.mark.parametrize("secret", [HMAC_SECRET, HMAC_ROTATED], ids=["current", "rotated"])
async def test_hmac_hex_with_either_secret_of_a_rotation_passes(vidhook: Any, secret: str) -> None:
    headers = {"X-Signature": sign(secret, BODY).hex()}
    assert await accepted(vidhook, "/hooks/hex", headers) == ["hmac"]


async def test_hmac_base64_in_a_custom_header_passes(vidhook: Any) -> None:
    headers = {"X-Hub-Sig": base64.b64encode(sign(HMAC_SECRET, BODY)).decode()}
    assert await accepted(vidhook, "/hooks/b64", headers) == ["hmac"]


async def test_hmac_sha512_with_prefix_passes(vidhook: Any) -> None:
    headers = {"X-Signature": "sha512=" + sign(HMAC_SECRET, BODY, "sha512").hex()}
    assert await accepted(vidhook, "/hooks/sha512", headers) == ["hmac"]


async def test_hmac_template_with_a_fresh_timestamp_passes(vidhook: Any) -> None:
    stamp = str(int(time.time()))
    signature = sign(HMAC_SECRET, f"{stamp}.".encode() + BODY).hex()
    headers = {"X-Signature": signature, "X-Timestamp": stamp}
    assert await accepted(vidhook, "/hooks/stamped", headers) == ["hmac"]


@pytest.mark.parametrize(
    ("url", "headers", "says"),
    [
        ("/hooks/hex", {}, "missing HMAC signature header X-Signature"),
        ("/hooks/hex", {"X-Signature": "00" * 32}, "does not match"),
        ("/hooks/hex", {"X-Signature": "not-hex"}, "not valid hex"),
        ("/hooks/hex", {"X-Signature": sign("wrong-secret", BODY).hex()}, "does not match"),
        ("/hooks/b64", {"X-Hub-Sig": "%%%"}, "not valid base64"),
        ("/hooks/b64", {"X-Signature": "irrelevant"}, "missing HMAC signature header X-Hub-Sig"),
        ("/hooks/sha512", {"X-Signature": sign(HMAC_SECRET, BODY, "sha512").hex()}, "sha512="),
        (
            "/hooks/sha512",
            {"X-Signature": "sha512=" + sign(HMAC_SECRET, BODY).hex()},
            "does not match",
        ),
    ],
    ids=[
        "missing",
        "zeros",
        "not-hex",
        "wrong-secret",
        "not-base64",
        "other-header",
        "no-prefix",
        "sha256-for-sha512",
    ],
)
async def test_wrong_or_missing_hmac_is_refused(
    vidhook: Any, url: str, headers: dict[str, str], says: str
) -> None:
    assert says in await refused(vidhook, url, headers)


# A few seconds past the 300 s tolerance: the stamp is whole seconds and the server reads its
# clock a moment later, so +301 could land inside the tolerance.
@pytest.mark.parametrize(
    ("offset", "says"), [(-305, "s old"), (305, "in the future"), (-3600, "s old")]
)
async def test_hmac_timestamp_out_of_tolerance_is_refused(
    vidhook: Any, offset: int, says: str
) -> None:
    stamp = str(int(time.time()) + offset)
    signature = sign(HMAC_SECRET, f"{stamp}.".encode() + BODY).hex()
    message = await refused(
        vidhook, "/hooks/stamped", {"X-Signature": signature, "X-Timestamp": stamp}
    )
    assert says in message
    assert "tolerance is 300 s" in message


async def test_hmac_timestamp_missing_or_not_a_time_is_refused(vidhook: Any) -> None:
    signature = sign(HMAC_SECRET, b"." + BODY).hex()
    message = await refused(vidhook, "/hooks/stamped", {"X-Signature": signature})
    assert "X-Timestamp must hold the Unix time" in message
    message = await refused(
        vidhook, "/hooks/stamped", {"X-Signature": signature, "X-Timestamp": "yesterday"}
    )
    assert "X-Timestamp" in message


async def test_hmac_timestamp_is_signed(vidhook: Any) -> None:
    stamp = int(time.time())
    signature = sign(HMAC_SECRET, f"{stamp}.".encode() + BODY).hex()
    headers = {"X-Signature": signature, "X-Timestamp": str(stamp - 1)}
    assert "does not match" in await refused(vidhook, "/hooks/stamped", headers)


# Standard Webhooks


@pytest.mark.parametrize("secret", [WHSEC, WHSEC_ROTATED], ids=["current", "rotated"])
async def test_standard_webhooks_signed_by_the_reference_library_pass(
    vidhook: Any, secret: str
) -> None:
    headers = standard_headers(secret)
    assert await accepted(vidhook, "/hooks/standard", headers) == ["standard-webhooks"]


async def test_standard_webhooks_wrong_secret_is_refused(vidhook: Any) -> None:
    other = "whsec_" + base64.b64encode(b"some-other-key-of-32-bytes-long!").decode()
    message = await refused(vidhook, "/hooks/standard", standard_headers(other))
    assert "webhook-signature does not match" in message


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
async def test_standard_webhooks_missing_header_is_named(vidhook: Any, missing: str) -> None:
    headers = standard_headers(WHSEC)
    del headers[missing]
    assert missing in await refused(vidhook, "/hooks/standard", headers)


@pytest.mark.parametrize(("offset", "says"), [(-600, "s old"), (600, "in the future")])
async def test_standard_webhooks_expired_or_future_is_refused(
    vidhook: Any, offset: int, says: str
) -> None:
    headers = standard_headers(WHSEC, at=time.time() + offset)
    assert says in await refused(vidhook, "/hooks/standard", headers)


async def test_standard_webhooks_signature_of_another_body_is_refused(vidhook: Any) -> None:
    headers = standard_headers(WHSEC, body=BODY.replace(b"completed", b"failed"))
    assert "does not match" in await refused(vidhook, "/hooks/standard", headers)


# IP allowlist and trusted proxies


async def test_client_inside_allow_ips_passes(vidhook: Any) -> None:
    assert await accepted(vidhook, "/hooks/local-only") == ["ip"]


async def test_client_outside_allow_ips_is_refused(vidhook: Any) -> None:
    message = await refused(vidhook, "/hooks/elsewhere-only")
    assert "127.0.0.1 is not in allow_ips" in message


async def test_forwarded_for_is_not_believed_from_an_untrusted_peer(vidhook: Any) -> None:
    headers = {"X-Forwarded-For": "203.0.113.9"}
    assert "not in allow_ips" in await refused(vidhook, "/hooks/elsewhere-only", headers)


async def test_forwarded_for_through_trusted_proxies_names_the_client(vidhook: Any) -> None:
    headers = {"X-Forwarded-For": "203.0.113.9, 10.1.2.3"}
    assert await accepted(vidhook, "/hooks/proxied", headers) == ["ip"]


@pytest.mark.parametrize(
    "forwarded", ["198.51.100.4", "203.0.113.9, 198.51.100.4", "not-an-address", ""]
)
async def test_forwarded_client_outside_allow_ips_is_refused(vidhook: Any, forwarded: str) -> None:
    headers = {"X-Forwarded-For": forwarded}
    assert "not in allow_ips" in await refused(vidhook, "/hooks/proxied", headers)


async def test_proxied_client_address_is_the_one_stored(vidhook: Any) -> None:
    answer = await vidhook.client.post(
        "/hooks/proxied", content=BODY, headers={"X-Forwarded-For": "203.0.113.9"}
    )
    assert answer.status_code == 200, answer.text
    raw = await vidhook.services.store.get_raw(answer.json()["id"])
    assert raw is not None
    assert raw.client == "203.0.113.9"


# All together


def everything_headers() -> dict[str, str]:
    return {"X-Signature": sign(HMAC_SECRET, BODY).hex(), **standard_headers(WHSEC)}


async def test_every_configured_check_passes_together(vidhook: Any) -> None:
    verified = await accepted(vidhook, f"/hooks/everything/{TOKEN_NEW}", everything_headers())
    assert verified == ["ip", "token", "hmac", "standard-webhooks"]


@pytest.mark.parametrize("drop", ["token", "X-Signature", "webhook-signature"])
async def test_each_configured_check_is_required(vidhook: Any, drop: str) -> None:
    headers = {k: v for k, v in everything_headers().items() if k != drop}
    url = "/hooks/everything" if drop == "token" else f"/hooks/everything/{TOKEN_NEW}"
    await refused(vidhook, url, headers)


async def test_refused_requests_store_no_event_and_are_logged(vidhook: Any) -> None:
    await refused(vidhook, "/hooks/tokened/wrong-token")
    await refused(vidhook, "/hooks/hex")
    services = vidhook.services
    assert await services.store.list_events(EventFilter(), 10) == []
    for _ in range(200):
        rejected = await services.store.list_rejected(10)
        if len(rejected) == 2:
            break
        await asyncio.sleep(0.02)
    assert [(r.source, r.reason, r.status) for r in rejected] == [
        ("hex", "unauthorized", 401),
        ("tokened", "unauthorized", 401),
    ]
    for r in rejected:
        assert r.head == BODY
        assert r.client == "127.0.0.1"
