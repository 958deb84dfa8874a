"""The whole path once: callback in over HTTP, event committed, delivered to a file sink."""

from __future__ import annotations

import asyncio
import json

from tests.conftest import fixture_bytes

CONFIG = """
[sources.vibegen]
provider = "vibegen"
tokens = ["tok-1234567890abcdef"]

[sinks.out]
type = "file"
path = "{dir}/events.jsonl"

[[rules]]
name = "all"
sinks = ["out"]
"""


async def test_callback_is_stored_and_delivered(vidhook_factory, tmp_path):
    vidhook = await vidhook_factory(CONFIG)
    body = fixture_bytes("vibegen", "callback_completed")
    answer = await vidhook.client.post("/hooks/vibegen/tok-1234567890abcdef", content=body)
    assert answer.status_code == 200, answer.text
    assert answer.json()["duplicate"] is False
    out = tmp_path / "events.jsonl"
    for _ in range(200):
        if out.exists() and out.read_text():
            break
        await asyncio.sleep(0.02)
    event = json.loads(out.read_text().splitlines()[0])
    assert event["id"] == answer.json()["id"]
    assert event["type"] == "task.completed"
    assert event["video_urls"] == ["https://cdn.example.com/videos/abc123.mp4"]
