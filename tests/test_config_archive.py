"""The `[archive]` section: its keys, defaults, durations and the store URL check."""

from __future__ import annotations

import pytest

from vidhook.receiver.config import ArchiveConfig, parse_settings
from vidhook.receiver.errors import ConfigError


def test_no_archive_section_means_no_archive() -> None:
    assert parse_settings("").archive is None


def test_the_spec_example_decodes() -> None:
    settings = parse_settings(
        """
        [archive]
        store = "s3://videos/vidhook"
        s3 = { endpoint = "https://s3.example.com", region = "auto", access_key_id = "${K}", \
secret_access_key = "${S}" }
        public_base_url = ""
        before_routing = true
        wait = "10m"
        max_bytes = 2147483648
        allow_hosts = ["*.vibegen.art"]
        allow_private = false
        retention_days = 0
        """,
        env={"K": "key-id", "S": "secret"},
    )
    archive = settings.archive
    assert archive is not None and archive.s3 is not None
    assert (archive.store, archive.s3.endpoint, archive.s3.access_key_id) == (
        "s3://videos/vidhook",
        "https://s3.example.com",
        "key-id",
    )
    assert archive.seconds("wait") == 600.0
    assert archive.seconds("link_expiry") == 7 * 86400.0


def test_defaults() -> None:
    archive = ArchiveConfig()
    assert (archive.max_bytes, archive.retention_days, archive.allow_private) == (2**31, 0, False)
    assert archive.before_routing is True
    assert [archive.seconds(k) for k in ("connect_timeout", "read_timeout", "total_timeout")] == [
        10.0,
        30.0,
        1800.0,
    ]


def test_durations_take_units() -> None:
    settings = parse_settings('[archive]\nlink_expiry = "2d"\nread_timeout = "500ms"\nwait = 30')
    assert settings.archive is not None
    assert settings.archive.seconds("link_expiry") == 172800.0
    assert settings.archive.seconds("read_timeout") == 0.5
    assert settings.archive.seconds("wait") == 30.0


@pytest.mark.parametrize(
    ("toml", "says"),
    [
        ('store = "/var/videos"', "neither file:///directory nor s3://bucket/prefix"),
        ('store = "ftp://host/videos"', "neither file:///directory nor s3://bucket/prefix"),
        ('store = "s3:///prefix"', "names no bucket"),
        ('store = "file://"', "names no directory"),
        ('wait = "soon"', "wait: 'soon' is not a duration"),
        ("read_timeout = 0", "read_timeout: must be above 0"),
        ("max_bytes = 0", "max_bytes: must be above 0"),
        ("retention_days = -1", "retention_days: must be 0"),
        ('s3 = { access_key_id = "k" }', "set both access_key_id and secret_access_key"),
        ('s3 = { endpoint = "s3.example.com" }', "not an http:// or https:// URL"),
        ("bucket = 'x'", "unknown key `archive.bucket`"),
    ],
)
def test_bad_values_are_refused_by_name(toml: str, says: str) -> None:
    with pytest.raises(ConfigError, match="archive") as caught:
        parse_settings(f"[archive]\n{toml}")
    assert says in caught.value.message


def test_a_file_store_may_be_relative() -> None:
    settings = parse_settings('[archive]\nstore = "file://./videos"')
    assert settings.archive is not None and settings.archive.store == "file://./videos"
