"""SIGHUP reloads the rules of a running `vidhook serve`: a new rules_dir file routes at once,
and an invalid one is refused with a message naming file, rule and field while the running
rules stay."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import httpx
import pytest
from drive import HOOK_PATH, SOURCE_CONFIG, eventually, rule, vibegen_callback
from serve_process import ServeProcess

pytestmark = pytest.mark.slow

BROKEN_RULE = """
[[rules]]
name = "broken"
sinks = ["second"]
when = { progress = { "$regx" = "9.*" } }
"""


def config_text(tmp_path: Path) -> str:
    sinks = "".join(
        f'[sinks.{name}]\ntype = "file"\npath = "{tmp_path / name}.jsonl"\n'
        for name in ("first", "second")
    )
    return (
        f'rules_dir = "{tmp_path / "rules.d"}"\n'
        f'[store]\nurl = "sqlite:///{tmp_path / "vidhook.db"}"\n'
        '[log]\nformat = "json"\n' + SOURCE_CONFIG + sinks
    )


def tasks_in(path: Path) -> list[str]:
    """The task ids of the events a file sink wrote."""
    if not path.exists():
        return []
    return [json.loads(line)["task_id"] for line in path.read_text().splitlines()]


def logged(server: ServeProcess, event: str) -> list[dict]:
    return [record for record in server.log_records() if record.get("event") == event]


async def test_sighup_puts_new_rules_in_force_and_keeps_them_over_an_invalid_file(tmp_path):
    (tmp_path / "rules.d").mkdir()
    (tmp_path / "rules.d" / "10-base.toml").write_text(rule("everything", "first"))
    config = tmp_path / "vidhook.toml"
    config.write_text(config_text(tmp_path))
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    server = ServeProcess(config, tmp_path / "serve.log")
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:

            async def send(task_id: str, status: str) -> None:
                answer = await client.post(HOOK_PATH, content=vibegen_callback(task_id, status))
                assert answer.status_code == 200, answer.text

            await send("a", "completed")
            await eventually(lambda: tasks_in(first) == ["a"])

            failures = rule("failures", "second", when='{ type = "task.failed" }')
            (tmp_path / "rules.d" / "20-failures.toml").write_text(failures)
            server.signal(signal.SIGHUP)
            await eventually(lambda: len(logged(server, "rules reloaded")) == 1)
            await send("b", "failed")
            await eventually(lambda: tasks_in(second) == ["b"])

            broken = tmp_path / "rules.d" / "30-broken.toml"
            broken.write_text(BROKEN_RULE)
            server.signal(signal.SIGHUP)
            refused = "rules not reloaded; the running rules stay"
            await eventually(lambda: len(logged(server, refused)) == 1)
            message = logged(server, refused)[0]["error"]
            assert str(broken) in message
            assert 'rule "broken"' in message
            assert "when.progress" in message and "$regx" in message

            await send("c", "failed")
            await send("d", "completed")
            await eventually(lambda: sorted(tasks_in(first)) == ["a", "b", "c", "d"])
            await eventually(lambda: sorted(tasks_in(second)) == ["b", "c"])
    finally:
        server.stop()
    assert len(logged(server, "rules reloaded")) == 1
