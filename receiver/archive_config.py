"""The `[archive]` section: where vidhook keeps the videos it downloads, and the download limits.

Durations take seconds or a string with a unit (`"10m"`, `"7d"`); `__post_init__` turns them into
seconds, so code reads them with `seconds(key)`. The store is `file:///dir` (or `file://./dir`,
relative to the working directory) or `s3://bucket/prefix` with the `s3` table.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from vidhook.receiver.durations import parse_duration
from vidhook.receiver.providers.source_config import ConfigStruct

__all__ = ["ArchiveConfig", "ArchiveDuration", "S3Config"]

ArchiveDuration = Literal["wait", "link_expiry", "connect_timeout", "read_timeout", "total_timeout"]
_DURATIONS: tuple[ArchiveDuration, ...] = (
    "wait",
    "link_expiry",
    "connect_timeout",
    "read_timeout",
    "total_timeout",
)


class S3Config(ConfigStruct):
    """How to reach an S3-compatible service; unset keys fall back to the AWS_* environment."""

    endpoint: str | None = None  # e.g. "https://s3.example.com"; unset: AWS itself
    region: str | None = None  # "auto" for services without regions
    access_key_id: str | None = None
    secret_access_key: str | None = None

    def __post_init__(self) -> None:
        if (self.access_key_id is None) != (self.secret_access_key is None):
            raise ValueError("s3: set both access_key_id and secret_access_key, or neither")
        if self.endpoint is not None and urlsplit(self.endpoint).scheme not in ("http", "https"):
            raise ValueError(f"s3.endpoint: {self.endpoint!r} is not an http:// or https:// URL")


class ArchiveConfig(ConfigStruct):
    """Keeping the videos: every video of a completed event is downloaded into `store`."""

    store: str = "file://./videos"
    s3: S3Config | None = None
    public_base_url: str = ""  # the bucket's public address; empty: signed /media links
    before_routing: bool = True  # deliveries wait for the archive, at most `wait`
    wait: float | str = 600.0
    max_bytes: int = 2_147_483_648  # larger videos are refused and noted
    allow_hosts: list[str] = []  # glob patterns of CDN hosts; empty: any public host
    allow_private: bool = False  # loopback, private and link-local targets refused unless true
    retention_days: int = 0  # 0 keeps the videos for ever
    link_expiry: float | str = 604_800.0  # how long a signed /media link works
    connect_timeout: float | str = 10.0
    read_timeout: float | str = 30.0  # the longest wait for the next bytes of a download
    total_timeout: float | str = 1800.0  # one whole download, redirects included

    def __post_init__(self) -> None:
        for key in _DURATIONS:
            value = getattr(self, key)
            try:
                seconds = parse_duration(value) if isinstance(value, str) else float(value)
            except ValueError as exc:
                raise ValueError(f"{key}: {exc}") from None
            if not seconds > 0:
                raise ValueError(f"{key}: must be above 0")
            setattr(self, key, seconds)
        if self.max_bytes < 1:
            raise ValueError("max_bytes: must be above 0")
        if self.retention_days < 0:
            raise ValueError("retention_days: must be 0 (keep for ever) or more")
        check_store_url(self.store)

    def seconds(self, key: ArchiveDuration) -> float:
        """A duration key in seconds (`__post_init__` has turned strings such as "10m" into
        numbers)."""
        return float(getattr(self, key))


def check_store_url(store: str) -> None:
    """Refuse a store URL that is not `file://PATH` or `s3://BUCKET[/PREFIX]`."""
    parts = urlsplit(store)
    if parts.scheme == "file":
        if not (parts.netloc + parts.path).strip("/"):
            raise ValueError(f"store: {store!r} names no directory; write file:///var/lib/videos")
    elif parts.scheme == "s3":
        if not parts.netloc:
            raise ValueError(f"store: {store!r} names no bucket; write s3://bucket/prefix")
    else:
        raise ValueError(f"store: {store!r} is neither file:///directory nor s3://bucket/prefix")
