"""Two vidhook instances on one PostgreSQL database: callbacks spread over both join the same
durable groups, both flushers race for them, and each group reaches the Slack fake once."""

from __future__ import annotations

import asyncio
import json
from collections import Counter

from drive import eventually, vibegen_callback
from sink_endpoint import Endpoint
from test_grouping import PUBLIC, Clock, slack_sink

from tests.conftest import start_vidhook
from tests.pg import postgres_database
from vidhook.receiver.config import parse_settings

SOURCES = 5
PER_GROUP = 4
RULE = """
[[rules]]
name = "grouped"
sinks = ["ops-slack"]
group_by = ["source", "status"]
group_wait = "30s"
"""


def _sources() -> str:
    return "".join(
        f'[sources.s{n}]\nprovider = "vibegen"\ntokens = ["tok-s{n}-0123456789"]\n'
        for n in range(SOURCES)
    )


async def test_two_instances_on_postgresql_send_each_group_once():
    clock = Clock()
    async with postgres_database() as url, Endpoint() as slack:
        text = f'[store]\nurl = "{url}"\n' + PUBLIC + _sources() + slack_sink(slack.url) + RULE
        settings = parse_settings(text, env={})
        first, stop_first = await start_vidhook(settings, clock=clock)
        second, stop_second = await start_vidhook(settings, clock=clock)
        try:
            posts = []
            for n in range(SOURCES):
                for status in ("completed", "failed"):
                    for k in range(PER_GROUP):
                        instance = (first, second)[k % 2]
                        body = vibegen_callback(f"s{n}-{status}-{k}", status)
                        path = f"/hooks/s{n}/tok-s{n}-0123456789"
                        posts.append(instance.client.post(path, content=body))
            answers = await asyncio.gather(*posts)
            assert {answer.status_code for answer in answers} == {200}
            assert (await first.services.store.group_counts())[0] == SOURCES * 2
            clock.now += 30
            for instance in (first, second):
                flusher = instance.services.supervisor.get("group-flusher")
                assert flusher is not None
                flusher.wake()
            await eventually(lambda: len(slack.delivered("content-type")) == SOURCES * 2)
            groups = await first.services.store.group_counts()
        finally:
            await stop_second()
            await stop_first()
    assert groups == (0, None)
    headers = Counter(json.loads(r.body)["blocks"][0]["text"]["text"] for r in slack.received)
    assert len(headers) == SOURCES * 2 and set(headers.values()) == {1}
    assert all(f" {PER_GROUP} events: source=s" in header for header in headers)
    sent = [
        m.group_events.labels("ops-slack")._value.get()
        for m in (first.services.metrics, second.services.metrics)
    ]
    assert sum(sent) == SOURCES * 2 * PER_GROUP
