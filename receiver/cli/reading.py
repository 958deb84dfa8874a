"""Where the read commands read from: the configured store, or with `--url` (or
`$VIDHOOK_URL`) a running vidhook's admin API, with the token in `$VIDHOOK_TOKEN`.

Both answer in the admin API's shapes, so a command prints the same either way.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol, TypeVar

import httpx
import msgspec

from vidhook.receiver.admin.events import event_detail
from vidhook.receiver.admin.schemas import (
    DeliveryPage,
    EventDetail,
    EventPage,
    RejectionPage,
    RejectionView,
    SinkList,
)
from vidhook.receiver.admin.sinks import sink_views
from vidhook.receiver.cli.connect import (
    OpenedStore,
    check_names,
    filter_from_args,
    label_pairs,
    store_opened,
)
from vidhook.receiver.errors import (
    BadRequest,
    NotFound,
    Unauthorized,
    Unreachable,
    VidhookError,
)

__all__ = ["Reader", "reader"]

T = TypeVar("T")


class Reader(Protocol):
    """The listings and the event detail the read commands print."""

    async def events(self, args: argparse.Namespace, limit: int) -> EventPage: ...
    async def detail(self, event_id: str) -> EventDetail: ...
    async def deliveries(self, args: argparse.Namespace, limit: int) -> DeliveryPage: ...
    async def sinks(self) -> SinkList: ...
    async def rejected(self, limit: int) -> RejectionPage: ...


class StoreReader:
    """Reads the configured store directly."""

    def __init__(self, services: OpenedStore) -> None:
        self.services = services

    async def events(self, args: argparse.Namespace, limit: int) -> EventPage:
        where = filter_from_args(args, self.services.clock())
        rows = await self.services.store.list_events(where, limit + 1)
        more = len(rows) > limit
        return EventPage(items=rows[:limit], next_cursor=rows[limit - 1].event.id if more else None)

    async def detail(self, event_id: str) -> EventDetail:
        return await event_detail(self.services.store, event_id)

    async def deliveries(self, args: argparse.Namespace, limit: int) -> DeliveryPage:
        rows = await self.services.store.list_deliveries(
            args.state, args.sink, args.cursor, limit + 1
        )
        more = len(rows) > limit
        return DeliveryPage(items=rows[:limit], next_cursor=rows[limit - 1].id if more else None)

    async def sinks(self) -> SinkList:
        return SinkList(items=await sink_views(self.services.store, self.services.sink_types))

    async def rejected(self, limit: int) -> RejectionPage:
        rows = await self.services.store.list_rejected(limit)
        return RejectionPage(items=[RejectionView.of(row) for row in rows])


class ApiReader:
    """Reads a running vidhook's admin API."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def _get(self, path: str, answer: type[T], params: Any = None) -> T:
        try:
            response = await self.http.get(path, params=params)
        except httpx.HTTPError as exc:
            raise Unreachable(f"cannot reach vidhook at {self.http.base_url}: {exc}") from None
        if response.is_success:
            return msgspec.json.decode(response.content, type=answer)
        try:
            message = msgspec.json.decode(response.content)["error"]["message"]
        except (msgspec.DecodeError, KeyError, TypeError):
            message = response.text[:200]
        kind = {400: BadRequest, 401: Unauthorized, 403: Unauthorized, 404: NotFound}
        error = kind.get(response.status_code, VidhookError)
        raise error(f"{self.http.base_url}: {response.status_code}: {message}")

    async def events(self, args: argparse.Namespace, limit: int) -> EventPage:
        params: dict[str, Any] = {
            "since": args.since, "until": args.until, "source": args.source,
            "provider": args.provider, "type": args.event_type, "status": args.status,
            "task_id": args.task_id, "model": args.model, "sink": args.sink,
            "cursor": args.cursor, "limit": limit,
            "label": [f"{k}:{v}" for k, v in label_pairs(args.label).items()],
        }  # fmt: skip
        kept = {key: value for key, value in params.items() if value not in (None, [])}
        return await self._get("/admin/events", EventPage, kept)

    async def detail(self, event_id: str) -> EventDetail:
        return await self._get(f"/admin/events/{event_id}", EventDetail)

    async def deliveries(self, args: argparse.Namespace, limit: int) -> DeliveryPage:
        params = {"state": args.state, "sink": args.sink, "cursor": args.cursor, "limit": limit}
        kept = {key: value for key, value in params.items() if value is not None}
        return await self._get("/admin/deliveries", DeliveryPage, kept)

    async def sinks(self) -> SinkList:
        return await self._get("/admin/sinks", SinkList)

    async def rejected(self, limit: int) -> RejectionPage:
        return await self._get("/admin/rejected", RejectionPage, {"limit": limit})


@asynccontextmanager
async def reader(args: argparse.Namespace) -> AsyncIterator[Reader]:
    """The admin API when `--url` or `$VIDHOOK_URL` names one, else the configured store."""
    url = getattr(args, "url", None) or os.environ.get("VIDHOOK_URL")
    if not url:
        async with store_opened(args) as opened:
            check_names(args, opened)
            yield StoreReader(opened)
        return
    token = os.environ.get("VIDHOOK_TOKEN")
    if not token:
        raise BadRequest(
            f"--url {url}: set VIDHOOK_TOKEN to an API token with the read scope"
            " (the [[api_tokens]] of the service's config)"
        )
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30.0) as http:
        yield ApiReader(http)
