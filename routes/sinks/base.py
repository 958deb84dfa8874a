"""The one narrow interface every sink implements, and what it is handed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Protocol

import httpx
import msgspec

from vidhook.receiver.config import parse_duration
from vidhook.receiver.digest_report import DigestReport
from vidhook.receiver.event import Event
from vidhook.receiver.store.records import GroupBatch

__all__ = [
    "Delivery",
    "SendResult",
    "Sink",
    "SinkConfig",
    "SinkContext",
    "SinkError",
    "SinkType",
]

# A count of at least one (or zero), a duration above zero, a delay of zero or more. NaN fails
# all of them.
_Positive = Annotated[int, msgspec.Meta(ge=1)]
_Duration = Annotated[float, msgspec.Meta(gt=0)]
_Delay = Annotated[float, msgspec.Meta(ge=0)]
_Count = Annotated[int, msgspec.Meta(ge=0)]
# An empty schedule would silently mean the default one; leaving the option out says that.
_Schedule = Annotated[list[_Delay], msgspec.Meta(min_length=1)]


class SinkConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Options every sink has; each sink type's config Struct extends this one.

    `retry_schedule` is the list of delays in seconds before each retry; after the last one the
    delivery is dead. None means the default schedule.

    Loading refuses values that would stall or break delivery: `concurrency` must be at least 1,
    `timeout` above 0, `lease_margin` and each `retry_schedule` delay 0 or more, and a given
    `retry_schedule` must hold at least one delay.

    A claimed delivery is leased for `timeout + lease_margin` seconds: if its instance dies,
    another one sends it once the lease expires. The margin covers recording the attempt after
    the send; a smaller one lets instances take over sooner.

    Sink health: after `pause_after` failed attempts in a row (0: never) the sink is paused;
    its deliveries wait without spending attempts, one of them goes out as a probe every
    `probe_interval` (seconds, or a duration such as "1m"), and the first success resumes it.
    """

    type: str
    concurrency: _Positive = 4
    timeout: _Duration = 15.0
    retry_schedule: _Schedule | None = None
    lease_margin: _Delay = 30.0
    pause_after: _Count = 20
    probe_interval: float | str = 60.0

    def __post_init__(self) -> None:
        self.probe_interval = parse_duration("probe_interval", self.probe_interval)

    @property
    def probe_seconds(self) -> float:
        """`probe_interval` in seconds (`__post_init__` has turned a string into a number)."""
        return float(self.probe_interval)


class Delivery(msgspec.Struct, kw_only=True):
    """One event on its way to one sink. `webhook_id` stays the same across retries. A group's
    delivery (slack and email sinks of a grouped rule) carries the `group`, and `event` is its
    first event."""

    id: str
    sink: str
    webhook_id: str
    attempt: int
    replay: bool
    event: Event
    raw_body: bytes | None = None
    group: GroupBatch | None = None
    # A digest's delivery carries the digest (`event` is only the period's newest event).
    digest: DigestReport | None = None


class SendResult(msgspec.Struct):
    """A successful send: the status the sink answered and an excerpt of its answer."""

    status_code: int | None = None
    response_excerpt: str = ""


class SinkError(Exception):
    """A failed send. `retryable` says whether trying again may help; `retry_after` is the
    sink's own wish in seconds (HTTP `Retry-After`)."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool = True,
        retry_after: float | None = None,
        status_code: int | None = None,
        response_excerpt: str = "",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.retry_after = retry_after
        self.status_code = status_code
        self.response_excerpt = response_excerpt


@dataclass(frozen=True)
class SinkContext:
    """What a sink may use from the service: the shared HTTP client, and the public URL that
    links in messages start with (`server.public_url`; empty when none is set)."""

    http: httpx.AsyncClient
    public_url: str = ""


class Sink(Protocol):
    """A place events go. `send` returns on success and raises SinkError on failure.

    `name` and `config` are read-only here so that a sink may narrow `config` to its own type.
    """

    @property
    def name(self) -> str: ...

    @property
    def config(self) -> SinkConfig: ...

    async def send(self, delivery: Delivery) -> SendResult: ...


@dataclass(frozen=True)
class SinkType:
    """A registry entry: the config Struct of a sink type and how to build one."""

    config: type[SinkConfig]
    build: Callable[[str, Any, SinkContext], Sink]
