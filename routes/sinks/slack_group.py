"""The Block Kit blocks of a group's Slack message: a header with the count and the group key,
the first few events (task, status, video link or error), and a link to the rest."""

from __future__ import annotations

from typing import Any

from vidhook.receiver.event import Event
from vidhook.receiver.store.records import GroupBatch
from vidhook.routes.escaping import slack_escape, slack_link
from vidhook.routes.group_templates import GroupView
from vidhook.routes.templates import STATUS_EMOJI

__all__ = ["group_blocks"]

_HEADER_MAX = 150  # Slack's limit for a header block's text
_TEXT_MAX = 3000  # and for a section's text


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _line(event: Event) -> str:
    """One event on one line: emoji, source, task id, status, then its video or its error."""
    line = (
        f"{STATUS_EMOJI.get(event.status, '')} {slack_escape(event.source)}"
        f" `{slack_escape(event.task_id)}` {slack_escape(event.status)}"
    )
    if event.video_urls:
        return f"{line} · {slack_link(event.video_urls[0], 'Video')}"
    if event.error is not None:
        code = f"`{slack_escape(event.error.code)}` " if event.error.code else ""
        return f"{line} · {code}{slack_escape(event.error.message)}"
    return line


def group_blocks(batch: GroupBatch, view: GroupView) -> list[dict[str, Any]]:
    """The blocks that show one group."""
    title = f"{view.emoji} {view.headline}"
    lines = "\n".join(_line(event) for event in batch.events)
    if view.more:
        rest = f"… and {view.more} more: {slack_link(view.link, f'see all {view.count}')}"
    else:
        rest = slack_link(view.link, "Open in vidhook")
    context = (
        f"Rule {slack_escape(view.rule)} · received {slack_escape(view.since)}"
        f" to {slack_escape(view.until)}"
    )
    return [
        {"type": "header", "text": {"type": "plain_text", "text": _clip(title, _HEADER_MAX)}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _clip(lines, _TEXT_MAX)}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _clip(rest, _TEXT_MAX)}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": _clip(context, _TEXT_MAX)}]},
    ]
