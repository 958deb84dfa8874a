"""The archive downloader's address classifier and host allowlist, without a network."""

from __future__ import annotations

import ipaddress

import pytest

from vidhook.receiver.archive.addresses import host_allowed, parse_ip, refusal


def _refusal(text: str, *, allow_private: bool = False, trusted: str = "") -> str | None:
    address = parse_ip(text)
    assert address is not None
    networks = (ipaddress.ip_network(trusted),) if trusted else ()
    return refusal(address, allow_private=allow_private, trusted=networks)


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("169.254.1.1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("0.0.0.0", "unspecified"),
        ("100.64.0.1", "non-public"),  # shared address space (carrier NAT)
        ("192.0.2.10", "private"),  # documentation
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fe80::1", "link-local"),
        ("fe80::1%eth0", "link-local"),
        ("fc00::1", "private"),
        ("ff02::1", "multicast"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:10.0.0.1", "private"),
        ("64:ff9b::7f00:1", "loopback"),  # NAT64 of 127.0.0.1
        ("2002:7f00:1::", "loopback"),  # 6to4 of 127.0.0.1
    ],
)
def test_non_public_addresses_are_refused(address: str, kind: str) -> None:
    reason = _refusal(address)
    assert reason is not None and f"a {kind} address" in reason
    assert "allow_private" in reason
    assert _refusal(address, allow_private=True) is None


@pytest.mark.parametrize(
    "address",
    [
        "169.254.169.254",
        "fd00:ec2::254",
        "::ffff:169.254.169.254",
        "100.100.100.200",
        "168.63.129.16",
        "169.254.170.2",
        "::ffff:a9fe:a9fe",
    ],
)
def test_metadata_addresses_are_refused_even_when_private_is_allowed(address: str) -> None:
    for allow_private in (False, True):
        reason = _refusal(address, allow_private=allow_private)
        assert reason is not None and "cloud metadata address" in reason
    assert _refusal(address, trusted="0.0.0.0/0" if "." in address else "::/0") is not None


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700::1111"])
def test_public_addresses_pass(address: str) -> None:
    assert _refusal(address) is None


def test_a_trusted_network_passes_without_allowing_the_rest() -> None:
    assert _refusal("10.0.0.7", trusted="10.0.0.0/29") is None
    assert _refusal("10.0.0.8", trusted="10.0.0.0/29") is not None


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("[::1]", "::1"),
        ("fe80::1%lo", "fe80::1"),
        ("cdn.example", None),
    ],
)
def test_parse_ip(host: str, expected: str | None) -> None:
    parsed = parse_ip(host)
    assert (None if parsed is None else str(parsed)) == expected


def test_host_allowlist_uses_globs_case_insensitively() -> None:
    patterns = ["*.vibegen.art", "cdn.example.com"]
    assert host_allowed("v1.VibeGen.art", patterns)
    assert host_allowed("cdn.example.com.", patterns)
    assert not host_allowed("vibegen.art.evil.example", patterns)
    assert not host_allowed("evilcdn.example.com", patterns)
    assert host_allowed("anything.example", [])
