"""The `slack` sink: a Block Kit message to an incoming-webhook URL.

The message shows status, source, provider, model, task id, video links or the error, generation
time, credits and labels. `template` sets the plain-text `text` Slack shows in notifications and
where blocks cannot be drawn (default `templates/slack_text.j2`). A grouped rule's delivery
shows its group instead (see `slack_group.py`), with `group_template` as its text (default
`templates/slack_group_text.j2`).

Slack answers 200 `ok`; 429 carries `Retry-After` and is retried after it; its 4xx answers
(`invalid_payload` 400, `invalid_token`/`action_prohibited` 403, `no_service` 404,
`channel_is_archived` 410) are final; 5xx, timeouts and connection errors are retried.
"""

from __future__ import annotations

from typing import Any

import msgspec

from vidhook.receiver.event import Event
from vidhook.receiver.store.records import GroupBatch
from vidhook.routes.digest_render import digest_slack
from vidhook.routes.escaping import slack_escape, slack_link
from vidhook.routes.group_templates import GroupView, compile_group_template
from vidhook.routes.sinks.base import Delivery, SendResult, SinkConfig, SinkContext, SinkError
from vidhook.routes.sinks.http import USER_AGENT, check_url, outcome, post
from vidhook.routes.sinks.slack_group import group_blocks
from vidhook.routes.templates import (
    STATUS_EMOJI,
    RenderError,
    compile_template,
    default_template,
    format_duration,
    generation_seconds,
    headline,
)

__all__ = ["SlackConfig", "SlackSink", "blocks"]

_HEADER_MAX = 150  # Slack's limit for a header block's text
_TEXT_MAX = 3000  # and for a section's text


class SlackConfig(SinkConfig, kw_only=True, forbid_unknown_fields=True):
    """A Slack incoming webhook."""

    webhook_url: str
    template: str | None = None
    group_template: str | None = None
    username: str | None = None
    icon_emoji: str | None = None
    icon_url: str | None = None


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _field(label: str, value: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": f"*{label}*\n{value}"}


def _fields(event: Event) -> list[dict[str, str]]:
    fields = [
        _field("Source", slack_escape(event.source)),
        _field("Provider", slack_escape(event.provider)),
        _field("Model", slack_escape(event.model or "-")),
        _field("Task", f"`{slack_escape(event.task_id)}`"),
        _field("Status", slack_escape(f"{event.status} ({event.provider_status})")),
    ]
    seconds = generation_seconds(event)
    if seconds is not None:
        fields.append(_field("Generation time", format_duration(seconds)))
    if event.credits is not None and event.credits.reserved is not None:
        refunded = " (refunded)" if event.credits.refunded else ""
        fields.append(_field("Credits", f"{event.credits.reserved:g}{refunded}"))
    return fields[:10]  # a section holds at most ten fields


def _outcome_text(event: Event) -> str | None:
    if event.video_urls:
        links = [slack_link(url, f"Video {i}") for i, url in enumerate(event.video_urls, 1)]
        return _clip(" · ".join(links), _TEXT_MAX)
    if event.error is not None:
        code = f"`{slack_escape(event.error.code)}` " if event.error.code else ""
        return _clip(f"*Error* {code}{slack_escape(event.error.message)}", _TEXT_MAX)
    return None


def blocks(event: Event) -> list[dict[str, Any]]:
    """The Block Kit blocks that show one event."""
    title = f"{STATUS_EMOJI.get(event.status, '')} {headline(event)}".strip()
    result: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _clip(title, _HEADER_MAX)}},
        {"type": "section", "fields": _fields(event)},
    ]
    text = _outcome_text(event)
    if text:
        result.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
    if event.labels:
        labels = ", ".join(f"{k}={v}" for k, v in sorted(event.labels.items()))
        context = {"type": "mrkdwn", "text": _clip(slack_escape(labels), _TEXT_MAX)}
        result.append({"type": "context", "elements": [context]})
    return result


class SlackSink:
    """Posts each delivery as one message to a Slack incoming webhook."""

    def __init__(self, name: str, config: SlackConfig, context: SinkContext) -> None:
        where = f"sinks.{name}"
        check_url(config.webhook_url, f"{where}.webhook_url")
        self.name = name
        self.config = config
        self._http = context.http
        self._public_url = context.public_url
        self._text = compile_template(
            config.template or default_template("slack_text"), where=f"{where}.template"
        )
        self._group_text = compile_group_template(
            config.group_template or default_template("slack_group_text"),
            where=f"{where}.group_template",
        )

    def payload(self, event: Event) -> dict[str, Any]:
        """The JSON body for one event; raises a final SinkError if the text cannot render."""
        try:
            text = self._text.render(event)
        except RenderError as exc:
            raise SinkError(str(exc), retryable=False) from None
        return self._with_extras({"text": text, "blocks": blocks(event)})

    def group_payload(self, batch: GroupBatch) -> dict[str, Any]:
        """The JSON body for a group; raises a final SinkError if the text cannot render."""
        try:
            text = self._group_text.render(batch, self._public_url)
        except RenderError as exc:
            raise SinkError(str(exc), retryable=False) from None
        view = GroupView.of(batch, self._public_url)
        return self._with_extras({"text": text, "blocks": group_blocks(batch, view)})

    def _with_extras(self, message: dict[str, Any]) -> dict[str, Any]:
        extras = {
            "username": self.config.username,
            "icon_emoji": self.config.icon_emoji,
            "icon_url": self.config.icon_url,
        }
        message.update({k: v for k, v in extras.items() if v is not None})
        return message

    async def send(self, delivery: Delivery) -> SendResult:
        """Post the message; raise SinkError on failure."""
        group = delivery.group
        message = self.payload(delivery.event) if group is None else self.group_payload(group)
        if delivery.digest is not None:
            message = self._with_extras(digest_slack(delivery.digest))
        body = msgspec.json.encode(message)
        headers = {"content-type": "application/json", "user-agent": USER_AGENT}
        answer = await post(self._http, self.config.webhook_url, body, headers, self.config.timeout)
        return outcome(answer, "slack")
