"""The apprise sink against a real HTTP endpoint on loopback: Apprise's own `json://` and
`form://` targets post each message to it, as they would to any webhook receiver."""

from __future__ import annotations

import json
import logging
import sys
from urllib.parse import parse_qs

import httpx
import pytest
from drive import SOURCE_CONFIG, eventually, post_callbacks, rule
from sink_endpoint import Endpoint
from sink_servers import Received, Reply, make_delivery, make_event, make_failed_event

from vidhook.receiver.errors import ConfigError
from vidhook.routes.sinks import build_sinks
from vidhook.routes.sinks.apprise import AppriseSink
from vidhook.routes.sinks.base import SinkContext, SinkError

PASSWORD = "s3cr3t-hunter2"


def target(endpoint: Endpoint, scheme: str = "json", path: str = "/notify") -> str:
    return f"{scheme}://vidhook:{PASSWORD}@127.0.0.1:{endpoint.port}{path}"


def apprise_sink(http: httpx.AsyncClient, **options: object) -> AppriseSink:
    table = {"type": "apprise", **options}
    [sink] = build_sinks({"alerts": table}, SinkContext(http)).values()
    assert isinstance(sink, AppriseSink)
    return sink


@pytest.fixture
async def http():
    async with httpx.AsyncClient() as client:
        yield client


async def test_json_target_receives_the_title_and_body(http):
    async with Endpoint() as endpoint:
        sink = apprise_sink(http, urls=[target(endpoint)])
        result = await sink.send(make_delivery(make_event()))
    [request] = endpoint.received
    sent = json.loads(request.body)
    assert request.path == "/notify"
    assert sent["title"] == "✅ Video ready: vibegen task task-42"
    assert "Video 1: https://cdn.example.com/v/42.mp4" in sent["message"]
    assert "Generation time: 1m 35s" in sent["message"]
    assert sent["type"] == "success"
    assert result.response_excerpt == "1 service(s) notified"


async def test_form_target_and_own_templates(http):
    async with Endpoint() as endpoint:
        sink = apprise_sink(
            http,
            urls=[target(endpoint, "form", "/form")],
            title="{{ event.status }} {{ event.task_id }}",
            body="error: {{ event.error.message }}",
        )
        await sink.send(make_delivery(make_failed_event()))
    [request] = endpoint.received
    sent = parse_qs(request.body.decode())
    assert sent["title"] == ["failed task-42"]
    assert sent["message"] == ["error: Prompt <rejected> & refunded"]
    assert sent["type"] == ["failure"]


async def test_every_url_gets_the_message(http):
    async with Endpoint() as first, Endpoint() as second:
        sink = apprise_sink(http, urls=[target(first), target(second, "form")])
        await sink.send(make_delivery())
    assert (len(first.received), len(second.received)) == (1, 1)


@pytest.mark.parametrize(
    ("body_format", "expected"),
    [
        ("markdown", r"**Error:** content\_policy: Prompt \<rejected\> & refunded"),
        (
            "html",
            "<b>Error:</b> <code>content_policy</code>: Prompt &lt;rejected&gt; &amp; refunded",
        ),
    ],
)
async def test_provider_text_is_escaped_for_the_body_format(http, body_format, expected):
    async with Endpoint() as endpoint:
        sink = apprise_sink(http, urls=[target(endpoint)], format=body_format)
        await sink.send(make_delivery(make_failed_event()))
    [request] = endpoint.received
    assert expected in json.loads(request.body)["message"]


async def test_a_failing_endpoint_is_a_retryable_error_without_the_secret(http):
    async with Endpoint(lambda _: Reply(503, b"down")) as endpoint:
        sink = apprise_sink(http, urls=[target(endpoint)])
        with pytest.raises(SinkError) as caught:
            await sink.send(make_delivery())
    assert caught.value.retryable
    assert "JSON failure" in caught.value.message and "503" in caught.value.message
    assert PASSWORD not in caught.value.message


class Lines(logging.Handler):
    """Keeps the text of every record it handles."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.said: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.said.append(record.getMessage())


async def test_apprises_own_log_lines_are_masked(http):
    logger, lines = logging.getLogger("apprise"), Lines()
    level = logger.level
    logger.addHandler(lines)
    logger.setLevel(logging.DEBUG)
    try:
        async with Endpoint(lambda _: Reply(503, b"down")) as endpoint:
            sink = apprise_sink(http, urls=[target(endpoint)])
            logger.warning("posting to %s", target(endpoint))
            with pytest.raises(SinkError):
                await sink.send(make_delivery())
    finally:
        logger.removeHandler(lines)
        logger.setLevel(level)
    assert f"posting to json://vidhook:****@127.0.0.1:{endpoint.port}/notify" in lines.said
    assert len(lines.said) > 1 and all(PASSWORD not in line for line in lines.said)


async def test_the_worker_records_a_retry_then_the_delivery(vidhook_factory):
    answers = [Reply(503, b"down")]

    def answer(_: Received) -> Reply:
        return answers.pop(0) if answers else Reply()

    async with Endpoint(answer) as endpoint:
        vidhook = await vidhook_factory(
            SOURCE_CONFIG
            + f'[sinks.chat]\ntype = "apprise"\nurls = ["{target(endpoint)}"]\n'
            + "retry_schedule = [0.05]\n"
            + rule("all", "chat")
        )
        [event_id] = await post_callbacks(vidhook.client, 1)
        store = vidhook.services.store

        async def delivered() -> bool:
            return [d.state for d in await store.deliveries_of(event_id)] == ["delivered"]

        await eventually(delivered)
    first, second = await store.attempts_of(event_id)
    assert (first.outcome, second.outcome) == ("retry", "delivered")
    assert first.error is not None and "503" in first.error and PASSWORD not in first.error
    assert len(endpoint.received) == 2


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"urls": []}, "sinks.alerts.urls"),
        ({"urls": [f"nosuchservice://user:{PASSWORD}@host/x"]}, "sinks.alerts.urls[0]"),
        ({"urls": ["json://127.0.0.1/"], "title": "{{ event.nope }}"}, "sinks.alerts.title"),
        ({"urls": ["json://127.0.0.1/"], "format": "rtf"}, "sinks.alerts.format"),
    ],
)
def test_bad_config_is_refused_at_load_without_secrets(options, message):
    with pytest.raises(ConfigError) as caught:
        build_sinks({"alerts": {"type": "apprise", **options}}, SinkContext(httpx.AsyncClient()))
    assert message in caught.value.message
    assert PASSWORD not in caught.value.message


def test_without_the_extra_the_config_error_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "apprise", None)  # what an install without it looks like
    with pytest.raises(ConfigError, match=r"pip install 'vidhook\[apprise\]'"):
        build_sinks(
            {"alerts": {"type": "apprise", "urls": ["json://127.0.0.1/"]}},
            SinkContext(httpx.AsyncClient()),
        )
