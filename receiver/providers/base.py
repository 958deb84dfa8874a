"""What every provider module declares: its source config, whether it calls back, its task API.

A provider is one `Provider` value built in its own module. What it can do is what it holds:
`callbacks` when it POSTs results to a callback URL, `task_api` when vidhook can create and read
its tasks. Each part carries everything that capability needs, so a provider cannot say it calls
back without saying how to read and simulate its callback, nor offer a task API without the
shapes the fake provider answers in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import msgspec

from vidhook.receiver.errors import BadRequest, UnreadablePayload
from vidhook.receiver.event import TaskReport
from vidhook.receiver.providers.samples import FakeApi, Json, Outcome
from vidhook.receiver.providers.source_config import SourceConfigBase

__all__ = [
    "Callbacks",
    "CreatedTask",
    "Provider",
    "ProviderRequest",
    "TaskApi",
    "decode_payload",
]

T = TypeVar("T")
C = TypeVar("C", bound=SourceConfigBase)


class ProviderRequest(msgspec.Struct, frozen=True):
    """An HTTP request to a provider's API: method, absolute URL and optional JSON body."""

    method: str
    url: str
    json: dict[str, Any] | None = None


class CreatedTask(msgspec.Struct, frozen=True):
    """What a provider's create-task answer tells: the task id and when to poll it."""

    task_id: str
    provider_status: str | None = None
    poll_interval: float | None = None


@dataclass(frozen=True)
class Callbacks(Generic[C]):
    """How a provider calls back: how to read its callback body, and a realistic one to send.

    `read` raises `UnreadablePayload` naming the JSON path that does not fit, or `BadRequest`
    when the body is not JSON at all. `simulate` builds the body of a callback for a fresh
    task that ended with the outcome, at unix time `now`, for `vidhook simulate`.
    """

    read: Callable[[bytes, C], TaskReport]
    simulate: Callable[[Outcome, C, float], Json]
    requires_https: bool = False


@dataclass(frozen=True)
class TaskApi(Generic[C]):
    """A provider's task API: where tasks are created, how one is read back, and its fake.

    `default_base_url` is None where each deployment has its own address, so a source must set
    `base_url`. `query_request` builds the request that reads one task (base URL, task id);
    `read_query` reads its answer, which polling and `confirm` use. `queries_per_minute` is
    how many task reads one API key may make, as the provider publishes it (a cautious 600
    where it publishes none); a source's `queries_per_minute` overrides it.
    """

    default_base_url: str | None
    submit_path: str
    query_request: Callable[[str, str], ProviderRequest]
    read_query: Callable[[bytes, C], TaskReport]
    read_created: Callable[[bytes], CreatedTask]
    fake: FakeApi
    queries_per_minute: float = 600.0


@dataclass(frozen=True)
class Provider(Generic[C]):
    """One provider dialect: its name, its source config Struct and what it can do."""

    name: str
    config: type[C]
    callbacks: Callbacks[C] | None = None
    task_api: TaskApi[C] | None = None

    @property
    def calls_back(self) -> bool:
        """Whether this provider POSTs results to a callback URL (else vidhook polls it)."""
        return self.callbacks is not None

    @property
    def default_base_url(self) -> str:
        """The task API's public address; empty when there is none."""
        return (self.task_api.default_base_url or "") if self.task_api else ""

    @property
    def needs_base_url(self) -> bool:
        """Whether a source must set `base_url` for vidhook to reach the task API."""
        return self.task_api is not None and self.task_api.default_base_url is None


def decode_payload(body: bytes, kind: type[T], provider: str) -> T:
    """Decode a JSON body into a provider's Struct, mapping failures to vidhook's errors."""
    try:
        return msgspec.json.decode(body, type=kind)
    except msgspec.ValidationError as exc:
        raise UnreadablePayload(f"{provider} payload: {exc}") from None
    except msgspec.DecodeError as exc:
        raise BadRequest(f"body is not valid JSON: {exc}", code="invalid_json") from None
    except UnicodeDecodeError:
        raise BadRequest("body is not valid UTF-8", code="invalid_json") from None
    except RecursionError:
        raise BadRequest("JSON body is nested too deeply", code="invalid_json") from None
