"""Verification of inbound callbacks: each mode alone, together, and its config errors."""

from __future__ import annotations

import base64
import hmac
from datetime import UTC, datetime
from typing import Any

import pytest
import standardwebhooks
from hypothesis import given
from hypothesis import strategies as st

from vidhook.receiver import verify
from vidhook.receiver.config import HmacConfig, SourceConfig, StandardWebhooksConfig
from vidhook.receiver.errors import ConfigError, Unauthorized
from vidhook.receiver.providers.vibegen import VibegenSource
from vidhook.receiver.verify import InboundRequest, SourceVerifier, client_address, verify_request

NOW = 1_700_000_000.0
BODY = b'{"task_id": "t-1", "status": "completed"}'
TOKEN = "tok-8c1d5e0f3b2a4c6d"
SECRET = "hmac-secret-6f1e2d3c"
WHSEC = "whsec_" + base64.b64encode(b"standard-webhooks-key-32-bytes!!").decode()


def source(**fields: Any) -> SourceConfig:
    return VibegenSource(**fields)


def request(
    headers: dict[str, str] | None = None,
    *,
    body: bytes = BODY,
    client_host: str = "203.0.113.7",
    path_token: str | None = None,
    query_token: str | None = None,
) -> InboundRequest:
    return InboundRequest(
        headers=headers or {},
        body=body,
        client_host=client_host,
        path_token=path_token,
        query_token=query_token,
    )


def rejected(src: SourceConfig, req: InboundRequest, now: float = NOW) -> str:
    """Verify expecting a 401; return its message, checked to hold no configured secret."""
    with pytest.raises(Unauthorized) as info:
        SourceVerifier(src).verify(req, now)
    message = info.value.message
    for secret in (TOKEN, SECRET, WHSEC, WHSEC.removeprefix("whsec_"), "rotated-secret"):
        assert secret not in message
    assert info.value.status_code == 401
    return message


def test_a_source_without_checks_verifies_nothing() -> None:
    assert SourceVerifier(source()).verify(request(), NOW) == []


# URL token


@pytest.mark.parametrize(
    "req", [request(path_token=TOKEN), request(query_token=TOKEN)], ids=["path", "query"]
)
def test_token_in_path_or_query_passes(req: InboundRequest) -> None:
    assert SourceVerifier(source(tokens=[TOKEN])).verify(req, NOW) == ["token"]


def test_any_token_of_a_rotation_passes() -> None:
    verifier = SourceVerifier(source(tokens=["old-token-1234", TOKEN]))
    assert verifier.verify(request(path_token="old-token-1234"), NOW) == ["token"]
    assert verifier.verify(request(query_token=TOKEN), NOW) == ["token"]


def test_missing_token_says_where_to_put_it() -> None:
    message = rejected(source(tokens=[TOKEN]), request())
    assert message.startswith("missing URL token")
    assert "?token=" in message


def test_wrong_token_is_refused() -> None:
    message = rejected(source(tokens=[TOKEN]), request(path_token=TOKEN[:-1]))
    assert "does not match" in message
    rejected(source(tokens=[TOKEN]), request(path_token="tökén"))


def test_path_token_is_the_one_checked_when_both_are_given() -> None:
    rejected(source(tokens=[TOKEN]), request(path_token="wrong", query_token=TOKEN))


def test_empty_token_in_config_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"sources\.vibegen\.tokens\[1\]"):
        SourceVerifier(source(tokens=[TOKEN, ""]), name="vibegen")


# HMAC


def hmac_source(**fields: Any) -> SourceConfig:
    return source(hmac=HmacConfig(**{"secret": SECRET, **fields}))


def sign(content: bytes, *, secret: str = SECRET, algorithm: str = "sha256") -> bytes:
    return hmac.new(secret.encode(), content, algorithm).digest()


def test_hmac_of_the_raw_body_in_hex_passes() -> None:
    req = request({"x-signature": sign(BODY).hex()})
    assert SourceVerifier(hmac_source()).verify(req, NOW) == ["hmac"]


def test_hmac_hex_is_case_insensitive_and_trimmed() -> None:
    req = request({"x-signature": f" {sign(BODY).hex().upper()} "})
    assert SourceVerifier(hmac_source()).verify(req, NOW) == ["hmac"]


def test_hmac_header_name_is_configurable() -> None:
    src = hmac_source(header="X-Vibegen-Signature")
    assert SourceVerifier(src).verify(request({"x-vibegen-signature": sign(BODY).hex()}), NOW)
    assert "X-Vibegen-Signature" in rejected(src, request({"x-signature": sign(BODY).hex()}))


def test_hmac_with_the_wrong_secret_or_a_changed_body_is_refused() -> None:
    src = hmac_source()
    message = rejected(src, request({"x-signature": sign(BODY, secret="nope").hex()}))
    assert message == "HMAC signature in X-Signature does not match"
    rejected(src, request({"x-signature": sign(BODY).hex()}, body=BODY + b" "))


def test_missing_hmac_header_is_named() -> None:
    assert rejected(hmac_source(), request()) == "missing HMAC signature header X-Signature"


def test_hmac_that_is_not_hex_is_refused() -> None:
    message = rejected(hmac_source(), request({"x-signature": "zz" + sign(BODY).hex()}))
    assert message == "HMAC signature in X-Signature is not valid hex"


def test_hmac_prefix_is_required_and_stripped() -> None:
    src = hmac_source(prefix="sha256=")
    digest = sign(BODY).hex()
    assert SourceVerifier(src).verify(request({"x-signature": f"sha256={digest}"}), NOW)
    assert SourceVerifier(src).verify(request({"x-signature": f"SHA256={digest}"}), NOW)
    assert "must start with 'sha256='" in rejected(src, request({"x-signature": digest}))


def test_hmac_in_base64_passes() -> None:
    src = hmac_source(encoding="base64")
    encoded = base64.b64encode(sign(BODY)).decode()
    assert SourceVerifier(src).verify(request({"x-signature": encoded}), NOW) == ["hmac"]
    assert "valid base64" in rejected(src, request({"x-signature": sign(BODY).hex() + "!"}))


def test_hmac_sha512_passes_and_sha256_does_not_stand_in_for_it() -> None:
    src = hmac_source(algorithm="sha512")
    good = sign(BODY, algorithm="sha512").hex()
    assert SourceVerifier(src).verify(request({"x-signature": good}), NOW) == ["hmac"]
    rejected(src, request({"x-signature": sign(BODY).hex()}))


def test_any_hmac_secret_of_a_rotation_passes() -> None:
    src = hmac_source(secret=[SECRET, "rotated-secret"])
    for secret in (SECRET, "rotated-secret"):
        req = request({"x-signature": sign(BODY, secret=secret).hex()})
        assert SourceVerifier(src).verify(req, NOW) == ["hmac"]
    rejected(src, request({"x-signature": sign(BODY, secret="retired").hex()}))


def timestamped(stamp: str, *, secret: str = SECRET) -> InboundRequest:
    signature = sign(f"{stamp}.".encode() + BODY, secret=secret).hex()
    return request({"x-signature": signature, "x-timestamp": stamp})


TEMPLATED = {"template": "{timestamp}.{body}", "timestamp_header": "X-Timestamp"}


def test_hmac_template_with_a_fresh_timestamp_passes() -> None:
    verifier = SourceVerifier(hmac_source(**TEMPLATED))
    assert verifier.verify(timestamped(str(int(NOW) - 299)), NOW) == ["hmac"]
    assert verifier.verify(timestamped(str(int(NOW) + 299)), NOW) == ["hmac"]


def test_hmac_timestamp_in_milliseconds_passes() -> None:
    verifier = SourceVerifier(hmac_source(**TEMPLATED))
    assert verifier.verify(timestamped(str(int(NOW * 1000) - 5_000)), NOW) == ["hmac"]
    rejected(hmac_source(**TEMPLATED), timestamped(str(int(NOW * 1000) - 400_000)))


def test_hmac_timestamp_too_old_or_too_new_is_refused() -> None:
    src = hmac_source(**TEMPLATED)
    assert rejected(src, timestamped(str(int(NOW) - 412))) == (
        "X-Timestamp is 412 s old; tolerance is 300 s"
    )
    assert rejected(src, timestamped(str(int(NOW) + 412))).startswith(
        "X-Timestamp is 412 s in the future; tolerance is 300 s"
    )


def test_hmac_tolerance_is_configurable() -> None:
    src = hmac_source(**TEMPLATED, tolerance=30)
    assert "tolerance is 30 s" in rejected(src, timestamped(str(int(NOW) - 31)))


FULLWIDTH_DIGITS = "\uff11\uff17\uff10\uff10"


@pytest.mark.parametrize("stamp", ["", "soon", "1e9", "nan", "-1700000000", FULLWIDTH_DIGITS])
def test_hmac_timestamp_must_be_a_unix_time(stamp: str) -> None:
    req = request({"x-signature": sign(BODY).hex(), "x-timestamp": stamp})
    assert "X-Timestamp must hold the Unix time" in rejected(hmac_source(**TEMPLATED), req)


def test_hmac_timestamp_is_part_of_what_is_signed() -> None:
    req = timestamped(str(int(NOW)))
    forged = request({**req.headers, "x-timestamp": str(int(NOW) + 1)})
    assert "does not match" in rejected(hmac_source(**TEMPLATED), forged)


def test_hmac_without_a_timestamp_header_configured_ignores_time() -> None:
    req = request({"x-signature": sign(BODY).hex(), "x-timestamp": "1"})
    assert SourceVerifier(hmac_source()).verify(req, NOW) == ["hmac"]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"secret": ""}, r"hmac\.secret\[0\]"),
        ({"secret": []}, r"hmac\.secret"),
        ({"template": "{timestamp}"}, r"hmac\.template"),
        ({"template": "{body}{body}"}, r"hmac\.template"),
        ({"template": "{id}.{body}"}, r"hmac\.template"),
        ({"template": "{timestamp}.{body}"}, "timestamp_header"),
        ({"timestamp_header": "X-Timestamp"}, "timestamp_header"),
        ({"tolerance": 0}, r"hmac\.tolerance"),
    ],
)
def test_bad_hmac_config_is_a_config_error(fields: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError, match=field) as info:
        SourceVerifier(hmac_source(**fields), name="signed")
    assert "sources.signed.hmac" in info.value.message


# Standard Webhooks

SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_HEADERS = {
    "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
    "webhook-timestamp": "1614265330",
    "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
}
SPEC_BODY = b'{"test": 2432232314}'
SPEC_NOW = 1614265330.0


def sw_source(secret: str | list[str] = SPEC_SECRET, **fields: Any) -> SourceConfig:
    return source(standard_webhooks=StandardWebhooksConfig(secret=secret, **fields))


def spec_request(**headers: str) -> InboundRequest:
    return request({**SPEC_HEADERS, **headers}, body=SPEC_BODY)


def test_standard_webhooks_spec_vector_passes() -> None:
    verified = SourceVerifier(sw_source()).verify(spec_request(), SPEC_NOW)
    assert verified == ["standard-webhooks"]


def test_standard_webhooks_secret_without_prefix_passes() -> None:
    src = sw_source(SPEC_SECRET.removeprefix("whsec_"))
    assert SourceVerifier(src).verify(spec_request(), SPEC_NOW) == ["standard-webhooks"]


def test_standard_webhooks_any_secret_of_a_rotation_passes() -> None:
    verifier = SourceVerifier(sw_source([WHSEC, SPEC_SECRET]))
    assert verifier.verify(spec_request(), SPEC_NOW) == ["standard-webhooks"]


def test_standard_webhooks_any_v1_signature_among_several_passes() -> None:
    signature = "v2,abc v1,AAAA " + SPEC_HEADERS["webhook-signature"] + " v1,not-base64!"
    verified = SourceVerifier(sw_source()).verify(
        spec_request(**{"webhook-signature": signature}), SPEC_NOW
    )
    assert verified == ["standard-webhooks"]


def test_standard_webhooks_wrong_secret_or_changed_content_is_refused() -> None:
    assert rejected(sw_source(WHSEC), spec_request(), SPEC_NOW) == (
        "webhook-signature does not match"
    )
    rejected(sw_source(), spec_request(**{"webhook-id": "msg_other"}), SPEC_NOW)
    rejected(sw_source(), request(SPEC_HEADERS, body=SPEC_BODY + b"\n"), SPEC_NOW)


def test_standard_webhooks_timestamp_is_signed() -> None:
    req = spec_request(**{"webhook-timestamp": "1614265331"})
    assert rejected(sw_source(), req, SPEC_NOW) == "webhook-signature does not match"


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_standard_webhooks_missing_header_is_named(missing: str) -> None:
    headers = {k: v for k, v in SPEC_HEADERS.items() if k != missing}
    message = rejected(sw_source(), request(headers, body=SPEC_BODY), SPEC_NOW)
    assert message == f"missing Standard Webhooks header {missing}"


def test_standard_webhooks_too_old_or_too_new_is_refused() -> None:
    message = rejected(sw_source(), spec_request(), SPEC_NOW + 412)
    assert message == "webhook-timestamp is 412 s old; tolerance is 300 s"
    message = rejected(sw_source(), spec_request(), SPEC_NOW - 412)
    assert message.startswith("webhook-timestamp is 412 s in the future; tolerance is 300 s")
    assert SourceVerifier(sw_source()).verify(spec_request(), SPEC_NOW + 300)
    assert SourceVerifier(sw_source()).verify(spec_request(), SPEC_NOW - 300)


@pytest.mark.parametrize("stamp", ["1614265330.0", "1614265330000x", "soon", "-1"])
def test_standard_webhooks_timestamp_must_be_whole_seconds(stamp: str) -> None:
    message = rejected(sw_source(), spec_request(**{"webhook-timestamp": stamp}), SPEC_NOW)
    assert message == "webhook-timestamp is not a Unix time in seconds"


@pytest.mark.parametrize("signature", ["g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", "v2,abc"])
def test_standard_webhooks_signature_without_v1_is_refused(signature: str) -> None:
    req = spec_request(**{"webhook-signature": signature})
    assert "no v1,<base64> signature" in rejected(sw_source(), req, SPEC_NOW)


@pytest.mark.parametrize("secret", ["whsec_", "whsec_not base64!", "", "ab$cd"])
def test_bad_standard_webhooks_secret_is_a_config_error(secret: str) -> None:
    with pytest.raises(ConfigError, match=r"sources\.partner\.standard_webhooks\.secret") as info:
        SourceVerifier(sw_source([WHSEC, secret]), name="partner")
    assert info.value.message.endswith("secret[1]: expected whsec_ followed by base64")


def test_standard_webhooks_tolerance_must_be_positive() -> None:
    with pytest.raises(ConfigError, match=r"standard_webhooks\.tolerance"):
        SourceVerifier(sw_source(tolerance=-1))


def test_standard_webhooks_without_secrets_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"standard_webhooks\.secret"):
        SourceVerifier(sw_source([]))


@given(
    body=st.text(max_size=200),
    msg_id=st.from_regex(r"msg_[A-Za-z0-9]{1,30}", fullmatch=True),
    offset=st.integers(min_value=-300, max_value=300),
)
def test_standard_webhooks_matches_the_reference_library(
    body: str, msg_id: str, offset: int
) -> None:
    signed_at = int(NOW) + offset
    signature = standardwebhooks.Webhook(WHSEC).sign(
        msg_id, datetime.fromtimestamp(signed_at, tz=UTC), body
    )
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(signed_at),
        "webhook-signature": signature,
    }
    verifier = SourceVerifier(sw_source(WHSEC))
    assert verifier.verify(request(headers, body=body.encode()), NOW) == ["standard-webhooks"]


# IP allowlist and X-Forwarded-For


def test_ipv4_cidr_allowlist() -> None:
    src = source(allow_ips=["203.0.113.0/24", "192.0.2.10"])
    assert SourceVerifier(src).verify(request(client_host="203.0.113.200"), NOW) == ["ip"]
    assert SourceVerifier(src).verify(request(client_host="192.0.2.10"), NOW) == ["ip"]
    message = rejected(src, request(client_host="198.51.100.7"))
    assert message == "client 198.51.100.7 is not in allow_ips"


def test_ipv6_cidr_allowlist() -> None:
    src = source(allow_ips=["2001:db8:1::/48"])
    assert SourceVerifier(src).verify(request(client_host="2001:db8:1::5"), NOW) == ["ip"]
    rejected(src, request(client_host="2001:db8:2::5"))
    rejected(src, request(client_host="203.0.113.7"))


def test_ipv4_mapped_ipv6_peer_matches_an_ipv4_range() -> None:
    src = source(allow_ips=["203.0.113.0/24"])
    assert SourceVerifier(src).verify(request(client_host="::ffff:203.0.113.7"), NOW) == ["ip"]


def test_peer_that_is_not_an_address_is_refused() -> None:
    rejected(source(allow_ips=["0.0.0.0/0"]), request(client_host="testclient"))


def test_forwarded_for_is_ignored_from_an_untrusted_peer() -> None:
    src = source(allow_ips=["203.0.113.0/24"], trusted_proxies=["10.0.0.0/8"])
    spoofed = request({"x-forwarded-for": "203.0.113.7"}, client_host="198.51.100.7")
    assert client_address(src, spoofed) == "198.51.100.7"
    assert rejected(src, spoofed) == "client 198.51.100.7 is not in allow_ips"


def test_forwarded_for_is_ignored_without_trusted_proxies() -> None:
    src = source(allow_ips=["203.0.113.0/24"])
    rejected(src, request({"x-forwarded-for": "203.0.113.7"}, client_host="10.0.0.2"))


def test_forwarded_for_from_a_trusted_proxy_names_the_client() -> None:
    src = source(allow_ips=["203.0.113.0/24"], trusted_proxies=["10.0.0.0/8", "fd00::/8"])
    req = request({"x-forwarded-for": "203.0.113.7"}, client_host="10.0.0.2")
    assert client_address(src, req) == "203.0.113.7"
    assert SourceVerifier(src).verify(req, NOW) == ["ip"]


def test_forwarded_for_is_walked_from_the_right_past_trusted_proxies() -> None:
    src = source(allow_ips=["203.0.113.0/24"], trusted_proxies=["10.0.0.0/8", "fd00::/8"])
    # The leftmost entry is whatever the client claimed; only the hops proxies added count.
    xff = "203.0.113.99, 198.51.100.7, fd00::1, 10.1.1.1"
    req = request({"x-forwarded-for": xff}, client_host="10.0.0.2")
    assert client_address(src, req) == "198.51.100.7"
    assert rejected(src, req) == "client 198.51.100.7 is not in allow_ips"


def test_forwarded_for_of_only_trusted_hops_names_the_leftmost() -> None:
    src = source(trusted_proxies=["10.0.0.0/8"])
    req = request({"x-forwarded-for": "10.9.9.9, 10.1.1.1"}, client_host="10.0.0.2")
    assert client_address(src, req) == "10.9.9.9"
    assert client_address(src, request({"x-forwarded-for": " , "}, client_host="10.0.0.2")) == (
        "10.0.0.2"
    )


def test_garbage_forwarded_for_from_a_trusted_proxy_is_refused() -> None:
    src = source(allow_ips=["203.0.113.0/24"], trusted_proxies=["10.0.0.0/8"])
    rejected(src, request({"x-forwarded-for": "unknown"}, client_host="10.0.0.2"))


@pytest.mark.parametrize("field", ["allow_ips", "trusted_proxies"])
@pytest.mark.parametrize("cidr", ["10.0.0.1/8", "10.0.0.0/33", "example.com", ""])
def test_bad_cidr_is_a_config_error_naming_the_field(field: str, cidr: str) -> None:
    with pytest.raises(ConfigError, match=rf"sources\.edge\.{field}\[1\]: not a CIDR network"):
        SourceVerifier(source(**{field: ["192.0.2.0/24", cidr]}), name="edge")


# Combinations


def combined() -> SourceConfig:
    return source(tokens=[TOKEN], hmac=HmacConfig(secret=SECRET), allow_ips=["203.0.113.0/24"])


def test_all_configured_checks_pass_together() -> None:
    req = request({"x-signature": sign(BODY).hex()}, path_token=TOKEN)
    assert SourceVerifier(combined()).verify(req, NOW) == ["ip", "token", "hmac"]


@pytest.mark.parametrize(
    ("req", "reason"),
    [
        (request({"x-signature": sign(BODY).hex()}), "missing URL token"),
        (request({"x-signature": "00"}, path_token=TOKEN), "does not match"),
        (request({"x-signature": sign(BODY).hex()}, path_token="x"), "URL token does not match"),
        (
            request({"x-signature": sign(BODY).hex()}, path_token=TOKEN, client_host="192.0.2.1"),
            "not in allow_ips",
        ),
    ],
)
def test_each_configured_check_is_required(req: InboundRequest, reason: str) -> None:
    assert reason in rejected(combined(), req)


def test_ip_is_checked_before_the_token() -> None:
    # Outside the allowlist, a right token and a wrong one get the same answer.
    right = rejected(combined(), request(path_token=TOKEN, client_host="192.0.2.1"))
    wrong = rejected(combined(), request(path_token="guess", client_host="192.0.2.1"))
    assert right == wrong == "client 192.0.2.1 is not in allow_ips"


def test_hmac_and_standard_webhooks_together() -> None:
    src = source(
        hmac=HmacConfig(secret=SECRET), standard_webhooks=StandardWebhooksConfig(secret=SPEC_SECRET)
    )
    req = spec_request(**{"x-signature": sign(SPEC_BODY).hex()})
    assert SourceVerifier(src).verify(req, SPEC_NOW) == ["hmac", "standard-webhooks"]
    rejected(src, spec_request(), SPEC_NOW)


# The module-level entry points


def test_verify_request_caches_one_verifier_per_source() -> None:
    src = source(tokens=[TOKEN])
    assert verify_request(src, request(path_token=TOKEN), now=NOW) == ["token"]
    assert verify.verifier_for(src) is verify.verifier_for(src)
    assert verify.verifier_for(src) is not verify.verifier_for(source(tokens=[TOKEN]))


def test_public_surface() -> None:
    assert sorted(verify.__all__) == [
        "InboundRequest",
        "ProxyTrust",
        "SourceVerifier",
        "client_address",
        "verifier_for",
        "verify_request",
    ]
