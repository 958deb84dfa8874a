"""The README's example of each message is what the real sinks send for one event: regenerate
them with `python tests/test_readme_messages.py` after changing a renderer."""

from __future__ import annotations

import asyncio
import json
import sys
from email.message import EmailMessage
from pathlib import Path

import httpx
import msgspec

sys.path.insert(0, str(Path(__file__).parent))
from sink_servers import make_delivery, make_failed_event

from vidhook.receiver.digest_report import DigestGroup, DigestReport, ErrorCount
from vidhook.receiver.store.records import GroupBatch
from vidhook.routes.digest_render import digest_email, digest_json, digest_slack
from vidhook.routes.sinks.apprise import AppriseConfig, AppriseSink
from vidhook.routes.sinks.base import SinkContext
from vidhook.routes.sinks.email import EmailConfig, EmailSink
from vidhook.routes.sinks.http import cloudevent
from vidhook.routes.sinks.slack import SlackConfig, SlackSink

README = Path(__file__).resolve().parents[1] / "README.md"


def group_batch() -> GroupBatch:
    """A group of 12 failures of one source, as a grouped rule's delivery carries it."""
    events = [
        make_failed_event(
            id=f"0190a000-0000-7000-8000-00000000010{n}",
            task_id=f"task-{n}",
            received_at=f"2024-05-01T10:01:3{n}.000Z",
        )
        for n in range(5)
    ]
    return GroupBatch(
        id="0190a000-0000-7000-8000-0000000001ff",
        rule="failures-to-people",
        key=[("source", "vibegen"), ("type", "task.failed")],
        count=12,
        events=events,
        since="2024-05-01T10:01:30.000Z",
        until="2024-05-01T10:01:58.000Z",
    )


async def messages() -> dict[str, str]:
    """Each sink's message for one completed vibegen event, and a group's Slack message and
    email, as the README shows them."""
    delivery = make_delivery()
    group = make_delivery(make_failed_event(), group=group_batch())
    async with httpx.AsyncClient() as client:
        context = SinkContext(http=client, public_url="https://hooks.example.com")
        slack = SlackSink(
            "ops-slack",
            SlackConfig(type="slack", webhook_url="https://hooks.slack.com/services/T0/B0/x"),
            context,
        )
        email = EmailSink(
            "ops-email",
            EmailConfig(
                type="email", host="smtp.example.com", sender="vidhook@example.com",
                to=["ops@example.com"],
            ),
            context,
        )  # fmt: skip
        mail = email.message(delivery)
        chat = AppriseSink(
            "team-chat", AppriseConfig(type="apprise", urls=["json://127.0.0.1/"]), context
        )
        title, body = chat.render(delivery)
        group_mail = email.message(group)
    assert group.group is not None

    def mail_text(message: EmailMessage) -> str:
        text_part = message.get_body(("plain",))
        assert text_part is not None
        return f"Subject: {message['Subject']}\n\n{text_part.get_content().rstrip()}"

    def pretty(value: object) -> str:
        return json.dumps(msgspec.to_builtins(value), indent=2, ensure_ascii=False)

    return {
        "slack": pretty(slack.payload(delivery.event)),
        "email": mail_text(mail),
        "http-event": pretty(delivery.event),
        "http-cloudevents": pretty(cloudevent(delivery)),
        "apprise": f"{title}\n\n{body.rstrip()}",
        "group-slack": pretty(slack.group_payload(group.group)),
        "group-email": mail_text(group_mail),
    }


# The digest the README shows: one day, grouped by end user.
DIGEST = DigestReport(
    name="daily", since="2025-03-09T08:00:00.000Z", until="2025-03-10T08:00:00.000Z",
    group_by=["labels.end_user_id"], unit="credits", currency="USD",
    groups=[
        DigestGroup(
            group={"labels.end_user_id": "u-42"}, tasks=12, completed=10, failed=2,
            failure_rate=0.1667, p50_seconds=84.0, p95_seconds=151.0, credits=0.0,
            estimated=430.0, cost=4.3,
            top_errors=[ErrorCount(message="Output video may contain sensitive content", count=2)],
        ),
        DigestGroup(
            group={"labels.end_user_id": "u-7"}, tasks=3, completed=3, failed=0,
            p50_seconds=62.0, p95_seconds=70.0, credits=24.0, estimated=24.0, cost=0.24,
        ),
    ],
)  # fmt: skip


def digest_messages() -> dict[str, str]:
    """Each sink's digest message for `DIGEST`, as the README shows it."""
    subject, text, _ = digest_email(DIGEST)
    return {
        "digest-slack": json.dumps(digest_slack(DIGEST), indent=2, ensure_ascii=False),
        "digest-email": f"Subject: {subject}\n\n{text.rstrip()}",
        "digest-json": json.dumps(json.loads(digest_json(DIGEST)), indent=2, ensure_ascii=False),
    }


def test_the_readme_shows_each_digest_as_the_sinks_render_it():
    text = README.read_text()
    for name, message in digest_messages().items():
        assert f"\n{message}\n```" in text, f"README's {name} example is out of date"


def test_the_readme_shows_each_message_as_the_sinks_render_it():
    text = README.read_text()
    for name, message in asyncio.run(messages()).items():
        assert f"\n{message}\n```" in text, f"README's {name} example is out of date"


if __name__ == "__main__":
    for name, message in {**asyncio.run(messages()), **digest_messages()}.items():
        print(f"--- {name}\n{message}\n")
