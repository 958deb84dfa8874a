"""The email sink against aiosmtpd on loopback: plain, login, STARTTLS and implicit TLS."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage

import httpx
import pytest
from sink_servers import (
    RecordingHandler,
    free_port,
    make_delivery,
    make_failed_event,
    password_checker,
    self_signed_tls,
    start_smtp,
)

from vidhook.receiver.errors import ConfigError
from vidhook.routes.sinks.base import SinkContext, SinkError
from vidhook.routes.sinks.email import EmailConfig, EmailSink

USER, PASSWORD = "vidhook", "s3cret-pass"


@pytest.fixture
async def context():
    async with httpx.AsyncClient() as client:
        yield SinkContext(http=client)


@pytest.fixture
def handler():
    return RecordingHandler(
        refuse={"gone@example.com": "550 5.1.1 no such user", "full@example.com": "452 4.2.2 full"}
    )


@pytest.fixture
def smtp(handler):
    controller = start_smtp(handler)
    yield controller
    controller.stop()


def email_sink(context: SinkContext, port: int, **options) -> EmailSink:
    fields = {"host": "127.0.0.1", "port": port, "starttls": False, "sender": "vidhook@example.com",
              "to": ["ops@example.com", "video@example.com"]}  # fmt: skip
    fields.update(options)
    return EmailSink("ops-email", EmailConfig(type="email", **fields), context)


def received(handler: RecordingHandler) -> EmailMessage:
    [envelope] = handler.envelopes
    message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


async def test_plain_smtp_sends_a_multipart_text_and_html_message(context, handler, smtp):
    await email_sink(context, smtp.port).send(make_delivery())
    envelope = handler.envelopes[0]
    assert envelope.mail_from == "vidhook@example.com"
    assert envelope.rcpt_tos == ["ops@example.com", "video@example.com"]
    message = received(handler)
    assert message["Subject"] == "[vidhook] Video ready: vibegen task task-42"
    assert message["From"] == "vidhook@example.com"
    assert message["To"] == "ops@example.com, video@example.com"
    assert message["Message-ID"] == "<msg_2b8f4c1e@vidhook>"
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    for part in (text, html):
        assert "task-42" in part and "seedance-1-pro" in part and "1m 35s" in part
    assert "https://cdn.example.com/v/42.mp4" in text
    assert '<a href="https://cdn.example.com/v/42.mp4">Video 1</a>' in html


async def test_html_part_escapes_provider_text(context, handler, smtp):
    await email_sink(context, smtp.port).send(make_delivery(make_failed_event()))
    message = received(handler)
    assert message["Subject"] == "[vidhook] Video failed: vibegen task task-42"
    html = message.get_body(("html",)).get_content()
    assert "Prompt &lt;rejected&gt; &amp; refunded" in html
    assert (
        "content_policy: Prompt <rejected> & refunded" in message.get_body(("plain",)).get_content()
    )


async def test_custom_templates(context, handler, smtp):
    sink = email_sink(
        context, smtp.port, subject="{{ event.task_id }}\n done", text="T {{ event.status }}",
        html="<b>{{ event.labels.team }}</b>{{ event.labels.missing }}",
    )  # fmt: skip
    await sink.send(make_delivery())
    message = received(handler)
    assert message["Subject"] == "task-42 done"
    assert message.get_body(("plain",)).get_content().strip() == "T completed"
    assert message.get_body(("html",)).get_content().strip() == "<b>growth</b>"


@pytest.fixture
def auth_smtp(handler):
    # AUTH offered without TLS, as on a loopback relay; the test asserts the sink used it.
    controller = start_smtp(
        handler, authenticator=password_checker(USER, PASSWORD), auth_require_tls=False
    )
    yield controller
    controller.stop()


async def test_login(context, handler, auth_smtp):
    await email_sink(context, auth_smtp.port, username=USER, password=PASSWORD).send(
        make_delivery()
    )
    assert handler.logins == [USER.encode()]


async def test_wrong_password_is_final(context, handler, auth_smtp):
    sink = email_sink(context, auth_smtp.port, username=USER, password="wrong")
    with pytest.raises(SinkError) as caught:
        await sink.send(make_delivery())
    assert caught.value.retryable is False
    assert "535" in caught.value.message
    assert handler.envelopes == []


@pytest.fixture(scope="module")
def server_tls(tmp_path_factory):
    return self_signed_tls(tmp_path_factory.mktemp("tls"))


async def test_starttls_with_login(context, handler, server_tls):
    tls, cert = server_tls
    controller = start_smtp(
        handler, tls_context=tls, require_starttls=True,
        authenticator=password_checker(USER, PASSWORD), auth_required=True,
    )  # fmt: skip
    try:
        sink = email_sink(context, controller.port, starttls=True, ca_file=str(cert),
                          username=USER, password=PASSWORD)  # fmt: skip
        await sink.send(make_delivery())
    finally:
        controller.stop()
    assert handler.logins == [USER.encode()]


async def test_starttls_refuses_an_untrusted_certificate(context, handler, server_tls):
    tls, _ = server_tls
    controller = start_smtp(handler, tls_context=tls, require_starttls=True)
    try:
        with pytest.raises(SinkError) as caught:
            await email_sink(context, controller.port, starttls=True).send(make_delivery())
    finally:
        controller.stop()
    assert handler.envelopes == []
    assert caught.value.retryable is True


async def test_implicit_tls(context, handler, server_tls):
    tls, cert = server_tls
    controller = start_smtp(handler, server_hostname="localhost", ssl_context=tls)
    try:
        sink = email_sink(context, controller.port, tls=True, ca_file=str(cert))
        await sink.send(make_delivery())
    finally:
        controller.stop()
    assert len(handler.envelopes) == 1


async def test_permanent_refusal_is_final(context, handler, smtp):
    sink = email_sink(context, smtp.port, to=["gone@example.com"])
    with pytest.raises(SinkError) as caught:
        await sink.send(make_delivery())
    assert caught.value.retryable is False
    assert "550" in caught.value.message


async def test_temporary_refusal_is_retryable(context, handler, smtp):
    sink = email_sink(context, smtp.port, to=["full@example.com"])
    with pytest.raises(SinkError) as caught:
        await sink.send(make_delivery())
    assert caught.value.retryable is True
    assert "452" in caught.value.message


async def test_partial_refusal_counts_as_sent(context, handler, smtp):
    sink = email_sink(context, smtp.port, to=["ops@example.com", "gone@example.com"])
    result = await sink.send(make_delivery())
    assert handler.envelopes[0].rcpt_tos == ["ops@example.com"]
    assert "gone@example.com (550)" in result.response_excerpt


async def test_connection_refused_is_retryable(context):
    with pytest.raises(SinkError) as caught:
        await email_sink(context, free_port(), timeout=2).send(make_delivery())
    assert caught.value.retryable is True


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"tls": True, "starttls": True}, "sinks.ops-email.tls"),
        ({"username": "u"}, "sinks.ops-email.password"),
        ({"to": []}, "sinks.ops-email.to"),
        ({"subject": "{% if %}"}, "sinks.ops-email.subject"),
        ({"html": "{{ event.__class__ }}"}, "sinks.ops-email.html"),
    ],
)
def test_bad_config_names_the_field(context, options, field):
    with pytest.raises(ConfigError) as caught:
        email_sink(context, 25, **options)
    assert caught.value.message.startswith(field)
