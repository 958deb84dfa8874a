"""The slack sink against a local fake of Slack's incoming-webhook endpoint."""

from __future__ import annotations

import httpx
import msgspec
import pytest
from sink_servers import HttpServer, Reply, make_delivery, make_event, make_failed_event

from vidhook.receiver.errors import ConfigError
from vidhook.routes.sinks.base import SinkContext, SinkError
from vidhook.routes.sinks.slack import SlackConfig, SlackSink


@pytest.fixture
async def context():
    async with httpx.AsyncClient() as client:
        yield SinkContext(http=client)


def slack_sink(context: SinkContext, url: str, **options) -> SlackSink:
    return SlackSink("ops-slack", SlackConfig(type="slack", webhook_url=url, **options), context)


def field_texts(payload: dict) -> dict[str, str]:
    section = payload["blocks"][1]
    return dict(f["text"].removeprefix("*").split("*\n", 1) for f in section["fields"])


async def test_completed_event_is_a_block_kit_message(context):
    async with HttpServer(Reply(status=200, body=b"ok")) as server:
        result = await slack_sink(context, server.url).send(make_delivery())
    [request] = server.received
    assert request.headers["content-type"] == "application/json"
    payload = msgspec.json.decode(request.body)
    header, _, outcome, labels = payload["blocks"]
    assert header == {"type": "header", "text": {"type": "plain_text", "text": "✅ Video ready"}}
    assert field_texts(payload) == {
        "Source": "vibegen",
        "Provider": "vibegen",
        "Model": "seedance-1-pro",
        "Task": "`task-42`",
        "Status": "completed (succeeded)",
        "Generation time": "1m 35s",
        "Credits": "12.5",
    }
    assert outcome["text"]["text"] == "<https://cdn.example.com/v/42.mp4|Video 1>"
    assert labels == {"type": "context", "elements": [{"type": "mrkdwn", "text": "team=growth"}]}
    assert (
        payload["text"] == "✅ Video ready: vibegen task task-42 <https://cdn.example.com/v/42.mp4>"
    )
    assert (result.status_code, result.response_excerpt) == (200, "ok")


async def test_failed_event_shows_the_error_escaped(context):
    async with HttpServer() as server:
        await slack_sink(context, server.url).send(make_delivery(make_failed_event(labels={})))
    payload = msgspec.json.decode(server.received[0].body)
    header, _, outcome = payload["blocks"]
    assert header["text"]["text"] == "❌ Video failed"
    assert outcome["text"]["text"] == (
        "*Error* `content_policy` Prompt &lt;rejected&gt; &amp; refunded"
    )
    assert field_texts(payload)["Credits"] == "12.5 (refunded)"
    assert payload["text"] == (
        "❌ Video failed: vibegen task task-42"
        " (content_policy: Prompt &lt;rejected&gt; &amp; refunded)"
    )


async def test_unknown_times_and_credits_are_left_out(context):
    event = make_event(created_at=None, credits=None, model=None, video_urls=[], labels={})
    async with HttpServer() as server:
        await slack_sink(context, server.url).send(make_delivery(event))
    payload = msgspec.json.decode(server.received[0].body)
    assert len(payload["blocks"]) == 2
    texts = field_texts(payload)
    assert "Generation time" not in texts and "Credits" not in texts
    assert texts["Model"] == "-"


async def test_custom_text_template_username_and_icon(context):
    options = {
        "template": "{{ event.task_id }} is {{ event.status }} after {{ generation_time }}",
        "username": "vidhook",
        "icon_emoji": ":movie_camera:",
    }
    async with HttpServer() as server:
        await slack_sink(context, server.url, **options).send(make_delivery())
    payload = msgspec.json.decode(server.received[0].body)
    assert payload["text"] == "task-42 is completed after 1m 35s"
    assert (payload["username"], payload["icon_emoji"]) == ("vidhook", ":movie_camera:")
    assert "icon_url" not in payload


async def test_rate_limit_is_retried_after_retry_after(context):
    reply = Reply(status=429, body=b"rate_limited", headers={"Retry-After": "30"})
    async with HttpServer(reply) as server:
        with pytest.raises(SinkError) as caught:
            await slack_sink(context, server.url).send(make_delivery())
    error = caught.value
    assert (error.retryable, error.retry_after, error.status_code) == (True, 30, 429)


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (404, b"no_service"),
        (403, b"invalid_token"),
        (403, b"action_prohibited"),
        (400, b"invalid_payload"),
        (410, b"channel_is_archived"),
    ],
)
async def test_slack_refusals_are_final(context, status, body):
    async with HttpServer(Reply(status=status, body=body)) as server:
        with pytest.raises(SinkError) as caught:
            await slack_sink(context, server.url).send(make_delivery())
    error = caught.value
    assert (error.retryable, error.status_code) == (False, status)
    assert error.response_excerpt == body.decode()
    assert body.decode() in error.message


async def test_server_errors_are_retryable(context):
    async with HttpServer(Reply(status=500, body=b"internal_error")) as server:
        with pytest.raises(SinkError) as caught:
            await slack_sink(context, server.url).send(make_delivery())
    assert caught.value.retryable is True


async def test_render_error_at_send_is_final(context):
    sink = slack_sink(
        context, "https://hooks.slack.invalid/x", template="{{ 1 // event.progress }}"
    )
    with pytest.raises(SinkError) as caught:
        await sink.send(make_delivery(make_event(progress=0)))
    assert caught.value.retryable is False
    assert caught.value.message.startswith("sinks.ops-slack.template: cannot render")


def test_bad_template_is_a_config_error_naming_the_sink(context):
    with pytest.raises(ConfigError) as caught:
        slack_sink(context, "https://hooks.slack.invalid/x", template="{{ event.taks_id }}")
    assert caught.value.message.startswith("sinks.ops-slack.template:")
    assert "taks_id" in caught.value.message
