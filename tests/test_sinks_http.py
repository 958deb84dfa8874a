"""The http sink against a real HTTP server on loopback."""

from __future__ import annotations

import base64
import os
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import msgspec
import pytest
import standardwebhooks
from sink_servers import (
    HttpServer,
    Reply,
    free_port,
    make_delivery,
    make_event,
    make_failed_event,
)

from vidhook.receiver.errors import ConfigError
from vidhook.receiver.event import Event
from vidhook.receiver.retry_after import parse_retry_after
from vidhook.routes.sinks.base import SinkContext, SinkError
from vidhook.routes.sinks.http import HttpConfig, HttpSink

SECRET = "whsec_" + base64.b64encode(os.urandom(24)).decode()


@pytest.fixture
async def context():
    async with httpx.AsyncClient() as client:
        yield SinkContext(http=client)


def http_sink(context: SinkContext, url: str, **options) -> HttpSink:
    return HttpSink("app", HttpConfig(type="http", url=url, **options), context)


async def test_event_format_posts_the_event_json_with_extra_headers(context):
    async with HttpServer() as server:
        sink = http_sink(context, server.url, headers={"Authorization": "Bearer t0k"})
        result = await sink.send(make_delivery())
    [request] = server.received
    assert (request.method, request.path) == ("POST", "/hook")
    assert msgspec.json.decode(request.body, type=Event) == make_event()
    assert request.headers["content-type"] == "application/json"
    assert request.headers["authorization"] == "Bearer t0k"
    assert request.headers["webhook-id"] == "msg_2b8f4c1e"
    assert "webhook-signature" not in request.headers
    assert (result.status_code, result.response_excerpt) == (200, "ok")


async def test_cloudevents_format_is_a_structured_mode_envelope(context):
    async with HttpServer() as server:
        await http_sink(context, server.url, format="cloudevents").send(make_delivery())
    [request] = server.received
    assert request.headers["content-type"] == "application/cloudevents+json"
    envelope = msgspec.json.decode(request.body)
    assert {k: v for k, v in envelope.items() if k != "data"} == {
        "specversion": "1.0",
        "id": "msg_2b8f4c1e",
        "source": "/vidhook/sources/vibegen",
        "type": "dev.vidhook.task.completed",
        "subject": "task-42",
        "time": "2024-05-01T10:01:36.000Z",
        "datacontenttype": "application/json",
    }
    assert msgspec.convert(envelope["data"], Event) == make_event()


async def test_raw_format_sends_the_stored_provider_body(context):
    raw = b'{"task_id":"task-42","state":"done"}'
    async with HttpServer() as server:
        await http_sink(context, server.url, format="raw").send(make_delivery(raw_body=raw))
    assert server.received[0].body == raw


async def test_raw_format_without_a_stored_body_is_final(context):
    sink = http_sink(context, "http://127.0.0.1:9/hook", format="raw")
    with pytest.raises(SinkError) as caught:
        await sink.send(make_delivery())
    assert caught.value.retryable is False
    assert "raw" in caught.value.message


async def test_signed_delivery_verifies_with_standardwebhooks_and_keeps_its_id(context):
    async with HttpServer() as server:
        sink = http_sink(context, server.url, secret=SECRET)
        await sink.send(make_delivery(attempt=1))
        await sink.send(make_delivery(attempt=2))
    first, retry = server.received
    for request in (first, retry):
        verified = standardwebhooks.Webhook(SECRET).verify(request.body, request.headers)
        assert verified["task_id"] == "task-42"
        assert request.headers["webhook-signature"].startswith("v1,")
    assert first.headers["webhook-id"] == retry.headers["webhook-id"] == "msg_2b8f4c1e"


async def test_signature_fails_verification_with_another_secret(context):
    async with HttpServer() as server:
        await http_sink(context, server.url, secret=SECRET).send(make_delivery())
    other = "whsec_" + base64.b64encode(os.urandom(24)).decode()
    request = server.received[0]
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        standardwebhooks.Webhook(other).verify(request.body, request.headers)


async def test_template_replaces_the_body(context):
    template = (
        '{"text": "{{ event.task_id }} took {{ generation_seconds }}s",'
        ' "error": {{ event.error.message | tojson }}}'
    )
    async with HttpServer() as server:
        await http_sink(context, server.url, template=template).send(
            make_delivery(make_failed_event())
        )
    assert server.received[0].headers["content-type"] == "application/json"
    assert msgspec.json.decode(server.received[0].body) == {
        "text": "task-42 took 95.0s",
        "error": "Prompt <rejected> & refunded",
    }


@pytest.mark.parametrize(
    ("status", "retryable"),
    [(500, True), (502, True), (503, True), (408, True), (409, True), (425, True), (429, True),
     (400, False), (401, False), (404, False), (410, False), (422, False), (301, False)],
)  # fmt: skip
async def test_answers_are_classified(context, status, retryable):
    async with HttpServer(Reply(status=status, body=b'{"error": "nope"}')) as server:
        with pytest.raises(SinkError) as caught:
            await http_sink(context, server.url).send(make_delivery())
    error = caught.value
    assert (error.retryable, error.status_code) == (retryable, status)
    assert error.response_excerpt == '{"error": "nope"}'
    assert str(status) in error.message


async def test_retry_after_seconds_is_honoured(context):
    async with HttpServer(Reply(status=429, headers={"Retry-After": "7"})) as server:
        with pytest.raises(SinkError) as caught:
            await http_sink(context, server.url).send(make_delivery())
    assert caught.value.retryable is True
    assert caught.value.retry_after == 7


async def test_retry_after_http_date_is_honoured(context):
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    async with HttpServer(Reply(status=503, headers={"Retry-After": later})) as server:
        with pytest.raises(SinkError) as caught:
            await http_sink(context, server.url).send(make_delivery())
    assert caught.value.retry_after is not None
    assert 110 <= caught.value.retry_after <= 120


async def test_final_answer_ignores_retry_after(context):
    async with HttpServer(Reply(status=400, headers={"Retry-After": "7"})) as server:
        with pytest.raises(SinkError) as caught:
            await http_sink(context, server.url).send(make_delivery())
    assert (caught.value.retryable, caught.value.retry_after) == (False, None)


def test_parse_retry_after():
    now = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    assert parse_retry_after("30", now) == 30
    assert parse_retry_after(" 007 ", now) == 7
    assert parse_retry_after("0", now) == 0
    assert parse_retry_after("9" * 400, now) == 1e9  # held, not an overflow
    assert parse_retry_after("Wed, 01 May 2024 10:01:00 GMT", now) == 60
    assert parse_retry_after("Wed, 01 May 2024 09:00:00 GMT", now) == 0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


@pytest.mark.parametrize("value", ["inf", "nan", "1e300", "1.5", "-5", "+5", "0x10", "1_000", "٣"])
def test_retry_after_that_is_neither_digits_nor_a_date_is_ignored(value):
    assert parse_retry_after(value) is None


async def test_timeout_is_retryable(context):
    async with HttpServer(Reply(delay=5)) as server:
        sink = http_sink(context, server.url, timeout=0.2)
        with pytest.raises(SinkError) as caught:
            await sink.send(make_delivery())
    assert caught.value.retryable is True
    assert "timed out" in caught.value.message


async def test_connection_refused_is_retryable(context):
    sink = http_sink(context, f"http://127.0.0.1:{free_port()}/hook")
    with pytest.raises(SinkError) as caught:
        await sink.send(make_delivery())
    assert caught.value.retryable is True
    assert caught.value.status_code is None


async def test_response_excerpt_is_cut_to_500_characters(context):
    async with HttpServer(Reply(status=200, body=b"x" * 100_000)) as server:
        result = await http_sink(context, server.url).send(make_delivery())
    assert result.response_excerpt == "x" * 500


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"url": "ftp://example.com/x"}, "sinks.app.url"),
        ({"url": "/relative"}, "sinks.app.url"),
        ({"url": "https://example.com", "secret": "whsec_***"}, "sinks.app.secret"),
        ({"url": "https://example.com", "template": "{{ event.task_id", "format": "event"},
         "sinks.app.template"),
        ({"url": "https://example.com", "template": "{}", "format": "raw"}, "sinks.app.template"),
    ],
)  # fmt: skip
async def test_bad_config_names_the_field(context, options, field):
    with pytest.raises(ConfigError) as caught:
        HttpSink("app", HttpConfig(type="http", **options), context)
    assert caught.value.message.startswith(field)
