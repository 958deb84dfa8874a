"""The `email` sink: one multipart (text and HTML) message per event over SMTP.

`starttls = true` (the default, port 587) requires STARTTLS; `tls = true` is implicit TLS (port
465). `username` and `password` log in. Subject, text and HTML are templates (defaults in
`templates/email_*.j2`; the HTML one is autoescaped). A grouped rule's delivery is one message
for its group, from `group_subject`, `group_text` and `group_html` (defaults in
`templates/email_group_*.j2`).

SMTP 4xx answers, timeouts and connection errors are retried; 5xx answers (550 mailbox unavailable,
535 bad login, ...) are final. When only some recipients are refused the send counts as done, since
the others already have the message, and the refusals are recorded in the response excerpt.
"""

from __future__ import annotations

import re
from email.message import EmailMessage
from email.utils import formatdate

import aiosmtplib

from vidhook.receiver.errors import ConfigError
from vidhook.receiver.store.records import GroupBatch
from vidhook.routes.digest_render import digest_email
from vidhook.routes.group_templates import GroupTemplate, compile_group_template
from vidhook.routes.sinks.base import Delivery, SendResult, SinkConfig, SinkContext, SinkError
from vidhook.routes.templates import (
    MessageTemplate,
    RenderError,
    compile_template,
    default_template,
)

__all__ = ["EmailConfig", "EmailSink"]


class EmailConfig(SinkConfig, kw_only=True, forbid_unknown_fields=True):
    """An SMTP server and the addresses that receive events."""

    host: str
    port: int = 587
    starttls: bool = True
    tls: bool = False
    validate_certs: bool = True
    ca_file: str | None = None
    username: str | None = None
    password: str | None = None
    sender: str
    to: list[str]
    subject: str | None = None
    text: str | None = None
    html: str | None = None
    group_subject: str | None = None
    group_text: str | None = None
    group_html: str | None = None


def _check(config: EmailConfig, where: str) -> None:
    if config.tls and config.starttls:
        raise ConfigError(f"{where}.tls: `tls` (implicit TLS) and `starttls` exclude each other")
    if (config.username is None) != (config.password is None):
        raise ConfigError(f"{where}.password: `username` and `password` go together")
    if not config.to:
        raise ConfigError(f"{where}.to: needs at least one address")


class EmailSink:
    """Mails each delivery to the configured recipients."""

    def __init__(self, name: str, config: EmailConfig, context: SinkContext) -> None:
        where = f"sinks.{name}"
        _check(config, where)
        self.name = name
        self.config = config
        self._subject = self._template(config.subject, "email_subject", f"{where}.subject")
        self._text = self._template(config.text, "email_text", f"{where}.text")
        self._html = self._template(config.html, "email_html", f"{where}.html", html=True)
        self._public_url = context.public_url
        self._group = tuple(
            compile_group_template(
                source or default_template(default),
                where=f"{where}.{key}",
                html=key.endswith("html"),
            )
            for source, default, key in (
                (config.group_subject, "email_group_subject", "group_subject"),
                (config.group_text, "email_group_text", "group_text"),
                (config.group_html, "email_group_html", "group_html"),
            )
        )

    @staticmethod
    def _template(
        source: str | None, default: str, where: str, html: bool = False
    ) -> MessageTemplate:
        return compile_template(source or default_template(default), where=where, html=html)

    def message(self, delivery: Delivery) -> EmailMessage:
        """The message for one delivery; raises a final SinkError if a template cannot render."""
        event = delivery.event
        try:
            if delivery.digest is not None:
                parts = list(digest_email(delivery.digest))
            elif delivery.group is None:
                parts = [t.render(event) for t in (self._subject, self._text, self._html)]
            else:
                parts = self._group_parts(delivery.group)
        except RenderError as exc:
            raise SinkError(str(exc), retryable=False) from None
        subject, text, html = parts
        message = EmailMessage()
        message["Subject"] = re.sub(r"\s+", " ", subject).strip()
        message["From"] = self.config.sender
        message["To"] = ", ".join(self.config.to)
        message["Date"] = formatdate(localtime=False, usegmt=True)
        # The same id on every retry lets mail clients fold duplicates of an at-least-once send.
        message["Message-ID"] = f"<{delivery.webhook_id}@vidhook>"
        message["X-Vidhook-Event-Id"] = event.id
        if delivery.group is not None:
            message["X-Vidhook-Group-Id"] = delivery.group.id
        message.set_content(text)
        message.add_alternative(html, subtype="html")
        return message

    def _group_parts(self, batch: GroupBatch) -> list[str]:
        templates: tuple[GroupTemplate, ...] = self._group
        return [t.render(batch, self._public_url) for t in templates]

    async def send(self, delivery: Delivery) -> SendResult:
        """Hand the message to the SMTP server; raise SinkError on failure."""
        message = self.message(delivery)
        config = self.config
        try:
            refused, answer = await aiosmtplib.send(
                message,
                sender=config.sender,
                recipients=config.to,
                hostname=config.host,
                port=config.port,
                username=config.username,
                password=config.password,
                use_tls=config.tls,
                start_tls=config.starttls,
                validate_certs=config.validate_certs,
                cert_bundle=config.ca_file,
                timeout=config.timeout,
            )
        except aiosmtplib.SMTPException as exc:
            raise _smtp_error(exc) from None
        except OSError as exc:
            raise SinkError(f"cannot reach {config.host}:{config.port}: {exc}") from None
        excerpt = answer
        if refused:
            excerpt += "; refused: " + ", ".join(f"{r} ({e.code})" for r, e in refused.items())
        return SendResult(response_excerpt=excerpt[:500])


def _smtp_error(exc: aiosmtplib.SMTPException) -> SinkError:
    """Classify an SMTP failure: 4xx and network trouble may pass, 5xx will not."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in exc.recipients]
        detail = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in exc.recipients)
        retryable = any(400 <= code < 500 for code in codes)
        return SinkError(f"all recipients refused: {detail}", retryable=retryable)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        retryable = 400 <= exc.code < 500
        return SinkError(
            f"SMTP {exc.code}: {exc.message}",
            retryable=retryable,
            response_excerpt=f"{exc.code} {exc.message}"[:500],
        )
    if isinstance(exc, aiosmtplib.SMTPNotSupported):
        return SinkError(f"SMTP server does not support this: {exc}", retryable=False)
    return SinkError(f"SMTP: {type(exc).__name__}: {exc}")
