"""What every provider module offers: readers for its payloads and the shape of its API."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import msgspec

from vidhook.receiver.config import SourceConfig
from vidhook.receiver.errors import BadRequest, UnreadablePayload
from vidhook.receiver.event import TaskReport

__all__ = ["CreatedTask", "Provider", "ProviderRequest", "decode_payload"]

T = TypeVar("T")


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
class Provider:
    """One provider dialect.

    `read_callback` reads the body the provider POSTs to `callback_url` (None when the provider
    never calls back); `read_query` reads its task-query answer, which polling and `confirm` use.
    Both raise `UnreadablePayload` naming the JSON path that does not fit, or `BadRequest` when
    the body is not JSON at all.
    """

    name: str
    default_base_url: str
    read_query: Callable[[bytes, SourceConfig], TaskReport]
    query_request: Callable[[str, str], ProviderRequest]
    submit_path: str
    read_created: Callable[[bytes], CreatedTask]
    read_callback: Callable[[bytes, SourceConfig], TaskReport] | None = None
    callback_requires_https: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def accepts_callbacks(self) -> bool:
        """Whether this provider POSTs results to a callback URL."""
        return self.read_callback is not None


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
