"""structlog setup: JSON lines in production, readable lines in a terminal, secrets redacted."""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

__all__ = ["SECRET_KEYS", "StructlogHandler", "configure_logging"]

# Log keys whose values are never printed (stored headers: `stored_headers`).
SECRET_KEYS = frozenset(
    {
        "authorization", "token", "tokens", "secret", "password", "api_key", "x-api-key",
        "cookie", "set-cookie", "x-signature", "webhook-signature", "x-hub-signature",
        "x-hub-signature-256", "proxy-authorization",
    }
)  # fmt: skip


def _redact_processor(
    _logger: Any, _name: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key in event.keys() & SECRET_KEYS:
        event[key] = "[redacted]"
    return event


def configure_logging(level: str = "info", fmt: str = "auto") -> None:
    """Configure structlog once for the process."""
    as_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    renderer: Any = (
        structlog.processors.JSONRenderer() if as_json else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _redact_processor,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    root = logging.getLogger()
    root.handlers = [StructlogHandler()]
    root.setLevel(logging.getLevelNamesMapping()[level.upper()])
    # uvicorn's start and stop lines repeat vidhook's own; its warnings and errors stay.
    logging.getLogger("uvicorn.error").setLevel(logging.WARNING)


class StructlogHandler(logging.Handler):
    """Passes the standard library's log records (uvicorn, asyncio, libraries) to structlog,
    so every line of the process has the configured format."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = str(record.msg)
        logger = structlog.get_logger(record.name)
        if record.exc_info:
            logger.log(record.levelno, message, exc_info=record.exc_info)
        else:
            logger.log(record.levelno, message)
