"""The default Slack and email messages link the archived copy of a video when there is one
(an http(s) link only), and the provider's expiring link otherwise."""

from __future__ import annotations

import httpx
import pytest

from tests.sink_servers import make_delivery, make_event
from vidhook.routes.sinks.base import SinkContext
from vidhook.routes.sinks.email import EmailConfig, EmailSink
from vidhook.routes.sinks.slack import SlackConfig, SlackSink

KEPT = "https://hooks.example.com/media/0190a000/0?exp=1900000000&sig=abc_-"
ORIGINAL = "https://cdn.example.com/v/42.mp4"


@pytest.fixture
async def sinks():
    async with httpx.AsyncClient() as client:
        context = SinkContext(http=client)
        slack = SlackSink(
            "ops", SlackConfig(type="slack", webhook_url="https://hooks.slack.com/x"), context
        )
        email = EmailSink(
            "mail",
            EmailConfig(type="email", host="smtp.example.com", sender="v@example.com",
                        to=["ops@example.com"]),
            context,
        )  # fmt: skip
        yield slack, email


def texts(sinks, event) -> tuple[str, str, str]:
    slack, email = sinks
    mail = email.message(make_delivery(event))
    plain = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    return str(slack.payload(event)["text"]), plain, html


async def test_the_archived_copy_is_linked(sinks):
    chat, plain, html = texts(sinks, make_event(archived_urls=[KEPT]))
    escaped = KEPT.replace("&", "&amp;")  # as Slack and HTML both want it
    assert f"<{escaped}>" in chat and ORIGINAL not in chat
    assert f"  {KEPT}\n" in plain
    assert f'href="{escaped}"' in html


async def test_without_a_copy_the_provider_link_is_given(sinks):
    for kept in ([], [""], ["javascript:alert(1)"]):
        chat, plain, html = texts(sinks, make_event(archived_urls=kept))
        assert f"<{ORIGINAL}>" in chat
        assert f"  {ORIGINAL}\n" in plain
        assert "javascript" not in chat + plain + html
