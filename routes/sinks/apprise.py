"""The `apprise` sink: one message to every Apprise URL (Telegram, Discord, Teams, Pushover...).

Apprise comes with the optional extra `vidhook[apprise]`; a config naming this sink without it
installed fails at load with a ConfigError saying how to install it. `urls` are Apprise URLs
(`tgram://BOT_TOKEN/CHAT_ID`, `discord://WEBHOOK_ID/WEBHOOK_TOKEN`, ...), secrets through
`${ENV}`; `title` and `body` are sandboxed Jinja2 templates (defaults `templates/apprise_*.j2`)
and `format` is the body's format: `text`, `markdown` (event text escaped for Markdown) or
`html` (autoescaped). Apprise converts the body for services that take another format.

Apprise sends through its own worker threads (`async_notify`), so the event loop never waits
on it. A failure is retryable: Apprise says only whether a service took the message, so the
error is the log lines it wrote for the failed services, with the URLs' secrets masked.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Annotated, Any, Literal

import msgspec

from vidhook.receiver.errors import ConfigError
from vidhook.routes.sinks.base import Delivery, SendResult, SinkConfig, SinkContext, SinkError
from vidhook.routes.templates import (
    RenderError,
    compile_template,
    default_template,
)

if TYPE_CHECKING:
    import apprise

__all__ = ["AppriseConfig", "AppriseSink", "masked_url"]

_URLS = Annotated[list[str], msgspec.Meta(min_length=1)]
_NOTIFY_TYPE = {"completed": "success", "failed": "failure", "cancelled": "warning"}
_ERROR_MAX = 1000
_SEPARATORS = re.compile(r"[/:@?&=#,]+")


class _SecretMask(logging.Filter):
    """Masks the secrets of every configured Apprise URL in Apprise's own log lines (its debug
    lines print whole request URLs, a Telegram bot token among them)."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = _mask(message, self.secrets)
        if masked != message:
            record.msg, record.args = masked, None
        return True


_LOG_MASK = _SecretMask()
logging.getLogger("apprise").addFilter(_LOG_MASK)


class AppriseConfig(SinkConfig, kw_only=True, forbid_unknown_fields=True):
    """Apprise URLs and the message's title and body templates."""

    urls: _URLS
    title: str | None = None
    body: str | None = None
    format: Literal["text", "markdown", "html"] = "text"


def _apprise() -> Any:
    """The apprise module, or a ConfigError saying how to install it."""
    try:
        import apprise
    except ImportError:
        raise ConfigError(
            "the apprise sink needs Apprise, which is not installed; install it with:"
            " pip install 'vidhook[apprise]'"
        ) from None
    return apprise


def masked_url(url: str) -> str:
    """An Apprise URL as it may be shown: the scheme and `****`, never its secrets."""
    scheme, sep, _ = url.partition("://")
    return f"{scheme}://****" if sep else "****"


class AppriseSink:
    """Sends each delivery as one Apprise notification to all of its URLs."""

    def __init__(self, name: str, config: AppriseConfig, context: SinkContext) -> None:
        where = f"sinks.{name}"
        module = _apprise()
        self.name = name
        self.config = config
        self._notifier: apprise.Apprise = module.Apprise()
        self._secrets: list[str] = []
        for index, url in enumerate(config.urls):
            self._add(module, url, f"{where}.urls[{index}]")
        body_default = {"text": "apprise_body", "markdown": "apprise_body_markdown"}
        self._title = compile_template(
            config.title or default_template("apprise_title"), where=f"{where}.title"
        )
        self._body = compile_template(
            config.body or default_template(body_default.get(config.format, "apprise_body_html")),
            where=f"{where}.body",
            html=config.format == "html",
        )

    def _add(self, module: Any, url: str, where: str) -> None:
        service = module.Apprise.instantiate(url)
        if service is None:
            raise ConfigError(
                f"{where}: Apprise cannot use {masked_url(url)}: unknown scheme or a malformed"
                " URL for that service (see Apprise's list of supported URLs)"
            )
        self._notifier.add(service)
        self._secrets += _secret_parts(url, service.url(privacy=True))
        _LOG_MASK.secrets.update(self._secrets)

    def render(self, delivery: Delivery) -> tuple[str, str]:
        """The title and body for one delivery; a final SinkError if a template cannot render."""
        try:
            return _squash(self._title.render(delivery.event)), self._body.render(delivery.event)
        except RenderError as exc:
            raise SinkError(str(exc), retryable=False) from None

    async def send(self, delivery: Delivery) -> SendResult:
        """Notify every URL; raise a retryable SinkError unless all of them took it."""
        title, body = self.render(delivery)
        result = await self._notifier.async_notify(
            body=body,
            title=title,
            notify_type=_NOTIFY_TYPE.get(delivery.event.status, "info"),
            body_format=self.config.format,
            timeout=self.config.timeout,
        )
        try:
            if result:
                return SendResult(response_excerpt=f"{result.success_count} service(s) notified")
            raise SinkError(self._error(result))
        finally:
            result.close()

    def _error(self, result: Any) -> str:
        """What went wrong, from the log lines Apprise captured for each failed service."""
        lines = []
        for service in result.results:
            if service:
                continue
            said = [entry.message for entry in service.logs() if entry.level != "DEBUG"]
            lines.append(f"{service.name} {service.status.name.lower()}: " + " ".join(said[-3:]))
        if not lines:
            lines = [f"Apprise: {result.status.name.lower()}"]
        return _mask("; ".join(lines), self._secrets)[:_ERROR_MAX]


def _squash(text: str) -> str:
    return " ".join(text.split())


def _secret_parts(url: str, private: str) -> list[str]:
    """The parts of `url` that Apprise's privacy form of it hides: its tokens and passwords."""
    shown = set(_SEPARATORS.split(private))
    return [part for part in _SEPARATORS.split(url) if len(part) >= 4 and part not in shown]


def _mask(text: str, secrets: Iterable[str]) -> str:
    for secret in sorted(set(secrets), key=len, reverse=True):
        text = text.replace(secret, "****")
    return text
