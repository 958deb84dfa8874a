"""A digest as each sink sends it: Slack Block Kit sections, an email's HTML table and text, and
JSON for http, log and file sinks. The email parts are the default templates
`templates/digest_email_{html,text}.j2`, rendered in the message sandbox (HTML autoescaped);
Slack text goes through `slack_escape`."""

from __future__ import annotations

from functools import cache
from typing import Any

import jinja2
import msgspec

from vidhook.receiver.digest_report import DigestGroup, DigestReport
from vidhook.routes.escaping import slack_escape
from vidhook.routes.templates import default_template, format_duration, template_environment

__all__ = ["digest_email", "digest_json", "digest_slack", "digest_subject"]

# Slack allows 50 blocks a message: a header, a context line, then two blocks a group.
SLACK_GROUPS = 20


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.2f}".rstrip("0").rstrip(".") if value % 1 else f"{value:,.0f}"


def _title(group_by: list[str], keys: list[str]) -> str:
    pairs = zip(group_by, keys, strict=True)
    return ", ".join(f"{k.removeprefix('labels.')}={v}" for k, v in pairs) or "all tasks"


def _row(digest: DigestReport, group: DigestGroup) -> dict[str, Any]:
    keys = [group.group.get(key) or "(none)" for key in digest.group_by]
    return {
        "group": group,
        "cells": keys,
        "title": _title(digest.group_by, keys),
        "rate": f"{group.failure_rate:.0%}",
        "p50": format_duration(group.p50_seconds) if group.p50_seconds is not None else "-",
        "p95": format_duration(group.p95_seconds) if group.p95_seconds is not None else "-",
        "credits": _number(group.credits),
        "estimated": _number(group.estimated),
        "cost": _number(group.cost),
    }


def digest_subject(digest: DigestReport) -> str:
    """The email subject: the digest, its totals and its period."""
    tasks = sum(g.tasks for g in digest.groups)
    failed = sum(g.failed for g in digest.groups)
    period = f"{digest.since[:10]} to {digest.until[:10]}"
    return f"vidhook digest {digest.name}: {tasks} tasks, {failed} failed ({period})"


@cache
def _template(name: str, html: bool) -> jinja2.Template:
    return template_environment(html=html, strict=False).from_string(default_template(name))


def digest_email(digest: DigestReport) -> tuple[str, str, str]:
    """(subject, text, html) of the digest's email."""
    context = {
        "digest": digest,
        "keys": [k.removeprefix("labels.") for k in digest.group_by],
        "rows": [_row(digest, g) for g in digest.groups],
    }
    text = _template("digest_email_text", False).render(context)
    html = _template("digest_email_html", True).render(context)
    return digest_subject(digest), text.strip() + "\n", html


def digest_slack(digest: DigestReport) -> dict[str, Any]:
    """The Slack message: a header, the period, then per group a section of fields (figures)
    and a context line of its top errors; groups past `SLACK_GROUPS` are counted at the end."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": f"Digest {digest.name}"[:150]}},
        {
            "type": "context",
            "elements": [
                {"type": "mrkdwn", "text": slack_escape(f"{digest.since} to {digest.until}")}
            ],
        },
    ]
    for group in digest.groups[:SLACK_GROUPS]:
        row = _row(digest, group)
        money = f" ({row['cost']} {digest.currency})" if digest.currency else ""
        fields = [
            f"*{slack_escape(row['title'])}*",
            f"*Tasks* {group.tasks}: {group.completed} completed,"
            f" {group.failed} failed ({row['rate']})",
            f"*Generation* p50 {row['p50']}, p95 {row['p95']}",
            f"*Credits* {row['credits']}, estimated {row['estimated']}"
            f" {slack_escape(digest.unit)}{money}",
        ]
        blocks.append(
            {"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in fields]}
        )
        errors = "; ".join(f"{e.count} x {e.message}" for e in group.top_errors)
        if errors:
            blocks.append(
                {
                    "type": "context",
                    "elements": [{"type": "mrkdwn", "text": slack_escape(errors)[:2000]}],
                }
            )
    more = len(digest.groups) - SLACK_GROUPS
    if more > 0:
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": f"… and {more} more groups"}],
            }
        )
    if not digest.groups:
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": "No tasks in this period."}}
        )
    return {"text": slack_escape(digest_subject(digest)), "blocks": blocks}


def digest_json(digest: DigestReport) -> bytes:
    """The digest as JSON, for http, log and file sinks: `{"type": "digest", ...report}`."""
    return msgspec.json.encode({"type": "digest", **msgspec.to_builtins(digest)})
