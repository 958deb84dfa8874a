"""Grouping through a running vidhook: a grouped rule's failures reach a loopback Slack fake
and an SMTP server as one message per group, while its http sink gets one delivery per event;
groups survive a restart; a replayed event is sent alone. The clock is injected: a test moves
it past `group_wait` instead of sleeping."""

from __future__ import annotations

import json
import time
from email import message_from_bytes, policy

from drive import HOOK_PATH, SOURCE_CONFIG, eventually, http_sink, post_callbacks
from sink_endpoint import Endpoint
from sink_servers import RecordingHandler, start_smtp

from tests.conftest import start_vidhook
from vidhook.receiver.config import parse_settings

ADMIN = "admin-token-0123456789"


class Clock:
    """The app's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def grouped_rule(*sinks: str, by: str = '["source", "type"]') -> str:
    return f"""
[[rules]]
name = "failures"
when = {{ type = "task.failed" }}
sinks = {json.dumps(list(sinks))}
group_by = {by}
group_wait = "30s"
group_interval = "5m"
"""


def slack_sink(url: str) -> str:
    return f'[sinks.ops-slack]\ntype = "slack"\nwebhook_url = "{url}"\nretry_schedule = [0.05]\n'


PUBLIC = '[server]\npublic_url = "https://hooks.example.com"\n'


def flush(vidhook, clock: Clock, seconds: float) -> None:
    """Move the clock on and let the group flusher look at once."""
    clock.now += seconds
    flusher = vidhook.services.supervisor.get("group-flusher")
    assert flusher is not None
    flusher.wake()


async def test_a_burst_of_200_failures_is_one_slack_message_and_200_http_deliveries(
    vidhook_factory,
):
    clock = Clock()
    async with Endpoint() as slack, Endpoint() as app:
        config = PUBLIC + SOURCE_CONFIG + slack_sink(slack.url) + http_sink("app", app.url)
        vidhook = await vidhook_factory(config + grouped_rule("ops-slack", "app"), clock=clock)
        await post_callbacks(vidhook.client, 200, status="failed")
        await eventually(lambda: len(app.delivered()) == 200, within=60)
        assert slack.received == []
        assert (await vidhook.services.store.group_counts())[0] == 1
        flush(vidhook, clock, 30)
        await eventually(lambda: len(slack.delivered("content-type")) == 1)
        message = json.loads(slack.received[0].body)
    assert message["text"].startswith("❌ 200 events: source=vibegen, type=task.failed <https://")
    header, events, rest, context = message["blocks"]
    assert header["text"]["text"] == "❌ 200 events: source=vibegen, type=task.failed"
    assert events["text"]["text"].count("\n") == 4  # the first five events
    assert "`task-0` failed · Content policy violation" in events["text"]["text"]
    # Slack reads `&` in a link as `&amp;`, like everywhere in its text.
    link = "https://hooks.example.com/ui/events?source=vibegen&amp;type=task.failed&amp;since="
    assert rest["text"]["text"].startswith(f"… and 195 more: <{link}")
    assert rest["text"]["text"].endswith("|see all 200>")
    assert "Rule failures" in context["elements"][0]["text"]
    metrics = vidhook.services.metrics
    assert metrics.group_events.labels("ops-slack")._value.get() == 200
    rows = await vidhook.services.store.list_deliveries(None, "ops-slack", None, 10)
    assert len(rows) == 1


async def test_events_within_the_interval_after_a_flush_go_into_the_next_message(
    vidhook_factory,
):
    clock = Clock()
    async with Endpoint() as slack:
        config = PUBLIC + SOURCE_CONFIG + slack_sink(slack.url) + grouped_rule("ops-slack")
        vidhook = await vidhook_factory(config, clock=clock)
        await post_callbacks(vidhook.client, 2, prefix="first", status="failed")
        flush(vidhook, clock, 30)
        await eventually(lambda: len(slack.delivered("content-type")) == 1)
        clock.now += 10
        await post_callbacks(vidhook.client, 3, prefix="next", status="failed")
        flush(vidhook, clock, 200)  # 210 s after the flush: the interval (300 s) has not passed
        _, due = await vidhook.services.store.group_counts()
        assert due == clock.now - 210 + 300
        flush(vidhook, clock, 90)
        await eventually(lambda: len(slack.delivered("content-type")) == 2)
        texts = [json.loads(r.body)["text"] for r in slack.received]
    assert texts[0].startswith("❌ 2 events") and texts[1].startswith("❌ 3 events")
    assert "`next-0`" in json.loads(slack.received[1].body)["blocks"][1]["text"]["text"]


async def test_a_restart_during_group_wait_still_sends_exactly_one_message(tmp_path):
    clock = Clock()
    db = tmp_path / "vidhook.db"
    async with Endpoint() as slack:
        text = f'[store]\nurl = "sqlite:///{db}"\n' + PUBLIC + SOURCE_CONFIG
        settings = parse_settings(text + slack_sink(slack.url) + grouped_rule("ops-slack"), env={})
        first, stop = await start_vidhook(settings, clock=clock)
        await post_callbacks(first.client, 4, status="failed")
        clock.now += 20
        await stop()
        assert slack.received == []
        again, stop = await start_vidhook(settings, clock=clock)
        try:
            await post_callbacks(again.client, 1, prefix="after", status="failed")
            flush(again, clock, 10)
            await eventually(lambda: len(slack.delivered("content-type")) == 1)
            rows = await again.services.store.list_deliveries(None, "ops-slack", None, 10)
        finally:
            await stop()
    assert len(slack.received) == 1 and len(rows) == 1
    assert json.loads(slack.received[0].body)["text"].startswith("❌ 5 events")


async def test_an_email_group_is_one_message_with_text_and_html(vidhook_factory):
    clock = Clock()
    handler = RecordingHandler()
    smtp = start_smtp(handler)
    try:
        mail = f"""
[sinks.ops-email]
type = "email"
host = "127.0.0.1"
port = {smtp.port}
starttls = false
sender = "vidhook@example.com"
to = ["ops@example.com"]
retry_schedule = [0.05]
"""
        config = PUBLIC + SOURCE_CONFIG + mail + grouped_rule("ops-email")
        vidhook = await vidhook_factory(config, clock=clock)
        await post_callbacks(vidhook.client, 7, status="failed")
        flush(vidhook, clock, 30)
        await eventually(lambda: len(handler.envelopes) == 1)
    finally:
        smtp.stop()
    message = message_from_bytes(handler.envelopes[0].content, policy=policy.default)
    assert message["Subject"] == "[vidhook] 7 events: source=vibegen, type=task.failed"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "task task-0: failed" in text and "... and 2 more." in text
    assert "Admin API: GET /admin/events?source=vibegen&type=task.failed&since=" in text
    assert 'href="https://hooks.example.com/ui/events?source=vibegen&amp;type=task.failed' in html
    assert "all 7 events</a>" in html


async def test_labels_make_the_group_key(vidhook_factory):
    clock = Clock()
    sources = "".join(
        f'[sources.{team}]\nprovider = "vibegen"\ntokens = ["tok-{team}-0123456789"]\n'
        f'labels = {{ team = "{team}" }}\n'
        for team in ("red", "blue")
    )
    async with Endpoint() as slack:
        rule = grouped_rule("ops-slack", by='["labels.team"]')
        vidhook = await vidhook_factory(
            PUBLIC + sources + slack_sink(slack.url) + rule, clock=clock
        )
        for n, team in enumerate(["red", "blue", "red", "red"]):
            body = json.dumps(
                {"event": "task.failed", "task_id": f"t{n}", "status": "failed",
                 "error_message": "no", "failed_at": "2025-03-10T10:00:15Z"}
            )  # fmt: skip
            answer = await vidhook.client.post(f"/hooks/{team}/tok-{team}-0123456789", content=body)
            assert answer.status_code == 200, answer.text
        flush(vidhook, clock, 30)
        await eventually(lambda: len(slack.delivered("content-type")) == 2)
        headers = sorted(json.loads(r.body)["blocks"][0]["text"]["text"] for r in slack.received)
    assert headers == ["❌ 1 event: labels.team=blue", "❌ 3 events: labels.team=red"]
    link = json.loads(slack.received[0].body)["blocks"][2]["text"]["text"]
    assert "/ui/events?label=team%3A" in link


async def test_a_replayed_event_of_a_group_is_sent_alone(vidhook_factory):
    clock = Clock()
    tokens = f'[[api_tokens]]\nname = "ops"\ntoken = "{ADMIN}"\nscopes = ["read", "admin"]\n'
    async with Endpoint() as slack:
        config = tokens + PUBLIC + SOURCE_CONFIG + slack_sink(slack.url)
        vidhook = await vidhook_factory(config + grouped_rule("ops-slack"), clock=clock)
        [event_id, _] = await post_callbacks(vidhook.client, 2, status="failed")
        flush(vidhook, clock, 30)
        await eventually(lambda: len(slack.delivered("content-type")) == 1)
        answer = await vidhook.client.post(
            f"/admin/events/{event_id}/replay", headers={"Authorization": f"Bearer {ADMIN}"}
        )
        assert answer.status_code == 200, answer.text
        await eventually(lambda: len(slack.delivered("content-type")) == 2)
        replayed = json.loads(slack.received[1].body)
    assert replayed["blocks"][0]["text"]["text"] == "❌ Video failed"
    assert HOOK_PATH.startswith("/hooks/vibegen/")
