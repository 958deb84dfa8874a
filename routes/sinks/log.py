"""The `log` sink: one structured log line per event, for local use and the default config."""

from __future__ import annotations

from typing import Any, Literal

import msgspec
import structlog

from vidhook.routes.sinks.base import Delivery, SendResult, SinkConfig, SinkContext

__all__ = ["LogConfig", "LogSink", "log_fields"]


class LogConfig(SinkConfig, kw_only=True, forbid_unknown_fields=True):
    """Where in the log events go: the level and the line's message."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    message: str = "video event"


def log_fields(delivery: Delivery) -> dict[str, Any]:
    """The event's fields for a log line, empty ones left out and `id` named `event_id`; a
    digest's delivery logs the digest instead."""
    if delivery.digest is not None:
        digest: dict[str, Any] = msgspec.to_builtins(delivery.digest)
        return {"event_type": "digest", **digest, "webhook_id": delivery.webhook_id}
    fields: dict[str, Any] = msgspec.to_builtins(delivery.event)
    fields["event_id"] = fields.pop("id")
    fields["event_type"] = fields.pop("type")
    kept = {k: v for k, v in fields.items() if v not in (None, [], {})}
    return {**kept, "webhook_id": delivery.webhook_id, "attempt": delivery.attempt}


class LogSink:
    """Writes each delivery as one structlog line."""

    def __init__(self, name: str, config: LogConfig, context: SinkContext) -> None:
        self.name = name
        self.config = config
        self._log = structlog.get_logger("vidhook.sinks.log").bind(sink=name)

    async def send(self, delivery: Delivery) -> SendResult:
        """Log the event; logging does not fail a delivery."""
        getattr(self._log, self.config.level)(self.config.message, **log_fields(delivery))
        return SendResult()
