"""Provider-controlled text through every sink's default templates, as it is sent: data, never
markup. Slack gets mrkdwn with `&`, `<`, `>` escaped; HTML mail is escaped; a subject stays one
line; only http(s) URLs become links. Sent to a local Slack fake, aiosmtpd and an HTTP sink."""

from __future__ import annotations

import email
import email.policy
import re
from email.message import EmailMessage

import httpx
import msgspec
import pytest
from sink_servers import (
    HttpServer,
    RecordingHandler,
    make_delivery,
    make_event,
    make_failed_event,
    start_smtp,
)

from vidhook.receiver.event import ErrorInfo
from vidhook.routes.escaping import html_link, is_web_url, one_line, slack_escape, slack_link
from vidhook.routes.sinks.base import SinkContext
from vidhook.routes.sinks.email import EmailConfig, EmailSink
from vidhook.routes.sinks.http import HttpConfig, HttpSink
from vidhook.routes.sinks.slack import SlackConfig, SlackSink

INJECTION = "<!channel> <https://evil.example|Click>"
SCRIPT_URL = "javascript:alert(1)"
DATA_URL = "data:text/html,<script>alert(1)</script>"
REAL_URL = "https://cdn.example.com/v/42.mp4?a=1&b=<2>|x"


def hostile_event():
    """A completed event whose every provider-controlled string tries to become markup."""
    return make_event(
        task_id="<!channel>",
        model="<!here> <https://evil.example|Click>",
        provider_status="done <@U123>",
        video_urls=[INJECTION, SCRIPT_URL, DATA_URL, REAL_URL],
        labels={"note": "<!everyone> & <https://evil.example|Click>"},
    )


def hostile_failure():
    return make_failed_event(
        task_id="t\r\nBcc: victim@example.com",
        error=ErrorInfo(code="<!here>", message=f"see {INJECTION} or {SCRIPT_URL}"),
    )


@pytest.fixture
async def context():
    async with httpx.AsyncClient() as client:
        yield SinkContext(http=client)


def mrkdwn_texts(payload: dict) -> list[str]:
    """Every text Slack reads as mrkdwn: `text`, and each mrkdwn element of the blocks."""
    texts = [payload["text"]]

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn":
                texts.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(payload["blocks"])
    return texts


def assert_only_web_links(text: str) -> None:
    """Every `<` in Slack markup opens a link to an http(s) URL: no mention, no other scheme."""
    assert re.findall(r"<(?!https?://)", text) == [], text


async def slack_payload(context: SinkContext, event, **options) -> dict:
    config = SlackConfig(type="slack", webhook_url="http://127.0.0.1:1/", **options)
    async with HttpServer() as server:
        config = msgspec.structs.replace(config, webhook_url=server.url)
        await SlackSink("ops-slack", config, context).send(make_delivery(event))
    return msgspec.json.decode(server.received[0].body)


async def test_slack_text_and_blocks_escape_every_provider_string(context):
    payload = await slack_payload(context, hostile_event())
    assert payload["text"] == (
        "✅ Video ready: vibegen task &lt;!channel&gt; "
        "&lt;!channel&gt; &lt;https://evil.example|Click&gt;"
    )
    _, fields, outcome, labels = payload["blocks"]
    texts = {f["text"].split("*\n", 1)[0]: f["text"].split("*\n", 1)[1] for f in fields["fields"]}
    assert texts["*Model"] == "&lt;!here&gt; &lt;https://evil.example|Click&gt;"
    assert texts["*Task"] == "`&lt;!channel&gt;`"
    assert texts["*Status"] == "completed (done &lt;@U123&gt;)"
    assert outcome["text"]["text"] == (
        "&lt;!channel&gt; &lt;https://evil.example|Click&gt;"
        " · javascript:alert(1)"
        " · data:text/html,&lt;script&gt;alert(1)&lt;/script&gt;"
        " · <https://cdn.example.com/v/42.mp4?a=1&amp;b=%3C2%3E%7Cx|Video 4>"
    )
    assert labels["elements"][0]["text"] == (
        "note=&lt;!everyone&gt; &amp; &lt;https://evil.example|Click&gt;"
    )
    for text in mrkdwn_texts(payload):
        assert_only_web_links(text)


@pytest.mark.parametrize("url", [SCRIPT_URL, DATA_URL, INJECTION])
async def test_slack_text_never_links_a_url_that_is_not_http(context, url):
    payload = await slack_payload(context, make_event(video_urls=[url]))
    assert payload["text"] == f"✅ Video ready: vibegen task task-42 {slack_escape(url)}"
    for text in mrkdwn_texts(payload):
        assert_only_web_links(text)


async def test_slack_error_text_is_escaped(context):
    payload = await slack_payload(context, hostile_failure())
    escaped = "see &lt;!channel&gt; &lt;https://evil.example|Click&gt; or javascript:alert(1)"
    assert payload["text"] == (
        f"❌ Video failed: vibegen task t\r\nBcc: victim@example.com (&lt;!here&gt;: {escaped})"
    )
    assert payload["blocks"][2]["text"]["text"] == f"*Error* `&lt;!here&gt;` {escaped}"
    for text in mrkdwn_texts(payload):
        assert_only_web_links(text)


@pytest.fixture
def handler():
    return RecordingHandler()


@pytest.fixture
def smtp(handler):
    controller = start_smtp(handler)
    yield controller
    controller.stop()


async def mailed(context: SinkContext, port: int, handler: RecordingHandler, event):
    fields = {"host": "127.0.0.1", "port": port, "starttls": False,
              "sender": "vidhook@example.com", "to": ["ops@example.com"]}  # fmt: skip
    sink = EmailSink("ops-email", EmailConfig(type="email", **fields), context)
    await sink.send(make_delivery(event))
    [envelope] = handler.envelopes
    message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    assert envelope.rcpt_tos == ["ops@example.com"]
    return message


async def test_html_mail_escapes_everything_and_links_only_http_urls(context, handler, smtp):
    message = await mailed(context, smtp.port, handler, hostile_event())
    html = message.get_body(("html",)).get_content()
    assert "<code>&lt;!channel&gt;</code>" in html
    assert "<td>&lt;!here&gt; &lt;https://evil.example|Click&gt;</td>" in html
    assert "<td>completed (done &lt;@U123&gt;)</td>" in html
    assert "<td>&lt;!everyone&gt; &amp; &lt;https://evil.example|Click&gt;</td>" in html
    videos = re.findall(r"<p>(.*)</p>", html)[:4]
    assert videos == [
        "&lt;!channel&gt; &lt;https://evil.example|Click&gt;",
        "javascript:alert(1)",
        "data:text/html,&lt;script&gt;alert(1)&lt;/script&gt;",
        '<a href="https://cdn.example.com/v/42.mp4?a=1&amp;b=&lt;2&gt;|x">Video 4</a>',
    ]
    assert re.findall(r'href="([^"]*)"', html) == [
        "https://cdn.example.com/v/42.mp4?a=1&amp;b=&lt;2&gt;|x"
    ]
    assert "<script" not in html
    text = message.get_body(("plain",)).get_content()
    assert f"  {SCRIPT_URL}\r\n" in text and f"  {INJECTION}\r\n" in text


async def test_mail_subject_stays_one_line(context, handler, smtp):
    message = await mailed(context, smtp.port, handler, hostile_failure())
    assert message["Subject"] == ("[vidhook] Video failed: vibegen task t Bcc: victim@example.com")
    assert message["Bcc"] is None
    assert handler.envelopes[0].rcpt_tos == ["ops@example.com"]
    html = message.get_body(("html",)).get_content()
    assert "<code>&lt;!here&gt;</code>: see &lt;!channel&gt; &lt;https://evil.example" in html
    assert "javascript:alert(1)</td>" in html and "href" not in html


async def test_users_templates_have_the_escaping_filters(context):
    template = (
        '{"text": {{ (event.task_id | slack_escape ~ " "'
        ' ~ event.video_urls | map("slack_link", "play") | join(" ")) | tojson }}}'
    )
    async with HttpServer() as server:
        config = HttpConfig(type="http", url=server.url, template=template)
        await HttpSink("chat", config, context).send(make_delivery(hostile_event()))
    body = msgspec.json.decode(server.received[0].body)
    assert body == {
        "text": "&lt;!channel&gt; &lt;!channel&gt; &lt;https://evil.example|Click&gt;"
        " javascript:alert(1) data:text/html,&lt;script&gt;alert(1)&lt;/script&gt;"
        " <https://cdn.example.com/v/42.mp4?a=1&amp;b=%3C2%3E%7Cx|play>"
    }


@pytest.mark.parametrize(
    ("url", "web"),
    [
        ("https://cdn.example.com/a.mp4", True),
        ("HTTP://cdn.example.com/a.mp4", True),
        ("javascript:alert(1)", False),
        ("JavaScript:alert(1)", False),
        (" https://cdn.example.com/", False),
        ("https://cdn.example.com/a b", False),
        ("https:///no-host", False),
        ("data:text/html,x", False),
        ("//cdn.example.com/a.mp4", False),
        ("https://[::1/", False),
    ],
)
def test_web_url(url, web):
    assert is_web_url(url) is web


def test_filters_one_by_one():
    assert slack_escape("a & <b>") == "a &amp; &lt;b&gt;"
    assert slack_link("https://x.example/a", "A|B <c>") == "<https://x.example/a|A/B &lt;c&gt;>"
    assert slack_link("https://x.example/a") == "<https://x.example/a>"
    assert str(html_link("javascript:alert(1)", "x")) == "javascript:alert(1)"
    assert str(html_link('https://x.example/"q"')) == (
        '<a href="https://x.example/&#34;q&#34;">https://x.example/&#34;q&#34;</a>'
    )
    assert one_line("a\r\nb\x00c\u2028d") == "a b c d"
