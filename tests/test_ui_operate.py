"""The dashboard's operating pages over HTTP: deliveries (dead first, Retry one, Retry all dead
of a sink), sinks, tasks and rules (loaded rules, trying a pasted rule): what a `read` token
sees, what an `admin` token does, CSRF on every POST, and bad input answered as 4xx pages."""

from __future__ import annotations

import re

import pytest
import structlog
from ui_session import csrf_of, log_in

from tests.stored_events import ADMIN, CONFIG, RAW, READER, make_event
from vidhook.receiver.store.records import AttemptRecord


async def dead_delivery(vidhook, number: int = 1) -> str:
    """An event routed to the `out` sink whose delivery gave up after one attempt."""
    store = vidhook.services.store
    await store.ingest(make_event(number), RAW, vidhook.services.route)
    claimed = await store.claim("out", "worker", vidhook.services.clock(), 300, 1)
    await store.finish(
        AttemptRecord(delivery_id=claimed[0].id, number=1, at="2026-01-01T00:00:00.000Z",
                      outcome="dead", latency_ms=4.0, status_code=410, error="HTTP 410 <gone>")
    )  # fmt: skip
    return claimed[0].id


async def test_deliveries_list_dead_first_with_attempts_and_retry_for_admin(vidhook_factory):
    vidhook = await vidhook_factory(CONFIG, run_workers=False)
    dead = await dead_delivery(vidhook)
    await vidhook.services.store.ingest(make_event(2), RAW, vidhook.services.route)
    await log_in(vidhook.client, ADMIN)
    page = await vidhook.client.get("/ui/deliveries")
    assert page.status_code == 200
    dead_at, others_at = page.text.index(f"delivery-{dead}"), page.text.index("Others, newest")
    assert dead_at < others_at and "HTTP 410 &lt;gone&gt;" in page.text
    assert f'action="/ui/deliveries/{dead}/retry"' in page.text
    with structlog.testing.capture_logs() as logs:
        answer = await vidhook.client.post(
            f"/ui/deliveries/{dead}/retry", data={"csrf_token": csrf_of(page.text)}
        )
    assert answer.status_code == 303 and answer.headers["location"].startswith("/ui/deliveries?")
    assert (await vidhook.services.store.get_delivery(dead)).state == "pending"
    retried = [entry for entry in logs if entry["event"] == "dashboard retry"]
    assert retried and retried[0]["token"] == "ops" and retried[0]["delivery_id"] == dead
    shown = await vidhook.client.get(answer.headers["location"])
    assert "is due again" in shown.text


async def test_retry_all_dead_of_a_sink_from_the_sinks_page(vidhook_factory):
    vidhook = await vidhook_factory(CONFIG, run_workers=False)
    first, second = await dead_delivery(vidhook, 1), await dead_delivery(vidhook, 2)
    await log_in(vidhook.client, ADMIN)
    page = await vidhook.client.get("/ui/sinks")
    assert page.status_code == 200 and 'id="sink-out"' in page.text and "has dead" in page.text
    answer = await vidhook.client.post(
        "/ui/sinks/out/retry", data={"csrf_token": csrf_of(page.text), "back": "sinks"}
    )
    assert answer.status_code == 303 and answer.headers["location"].startswith("/ui/sinks?")
    for delivery_id in (first, second):
        assert (await vidhook.services.store.get_delivery(delivery_id)).state == "pending"
    unknown = await vidhook.client.post(
        "/ui/sinks/nope/retry", data={"csrf_token": csrf_of(page.text)}
    )
    assert unknown.status_code == 404 and "no sink named" in unknown.text


async def test_a_read_token_sees_but_cannot_retry_and_csrf_is_required(vidhook_factory):
    vidhook = await vidhook_factory(CONFIG, run_workers=False)
    dead = await dead_delivery(vidhook)
    await log_in(vidhook.client, READER)
    page = await vidhook.client.get("/ui/deliveries")
    assert page.status_code == 200 and f"delivery-{dead}" in page.text
    assert "/retry" not in page.text
    refused = await vidhook.client.post(
        f"/ui/deliveries/{dead}/retry", data={"csrf_token": csrf_of(page.text)}
    )
    assert refused.status_code == 403
    missing = await vidhook.client.post(f"/ui/deliveries/{dead}/retry", data={})
    assert missing.status_code == 403
    assert (await vidhook.services.store.get_delivery(dead)).state == "dead"


async def test_tasks_page_lists_tasks_by_state(vidhook_factory):
    vidhook = await vidhook_factory(CONFIG, run_workers=False)
    store = vidhook.services.store
    await store.ingest(
        make_event(7, status="processing", type="task.progress"), RAW, vidhook.services.route
    )
    await log_in(vidhook.client, READER)
    page = await vidhook.client.get("/ui/tasks")
    assert page.status_code == 200 and "task-7" in page.text
    done = await vidhook.client.get("/ui/tasks?state=done")
    assert "task-7" not in done.text
    bad = await vidhook.client.get("/ui/tasks?state=sleepy")
    assert bad.status_code == 400 and "sleepy" in bad.text


async def test_rules_page_shows_rules_and_tries_a_pasted_rule(vidhook_factory):
    vidhook = await vidhook_factory(CONFIG, run_workers=False)
    store = vidhook.services.store
    await store.ingest(make_event(1, status="failed"), RAW, vidhook.services.route)
    await store.ingest(make_event(2), RAW, vidhook.services.route)
    await log_in(vidhook.client, READER)
    page = await vidhook.client.get("/ui/rules")
    assert page.status_code == 200 and 'name="rule"' in page.text
    rule = '[[rules]]\nname = "failures"\nwhen = { status = "failed" }\nsinks = ["out"]\n'
    tried = await vidhook.client.post(
        "/ui/rules/try", data={"csrf_token": csrf_of(page.text), "rule": rule, "since": "1d"}
    )
    assert tried.status_code == 200, tried.text
    assert "failures: matched 1" in tried.text and "task-1" in tried.text
    assert "task-2" not in tried.text.split("What it would have done")[1]


@pytest.mark.parametrize(
    ("rule", "said"),
    [
        ("[[rules]\nname = 1", "not valid TOML"),
        ('[[rules]]\nname = "x"\nsinks = ["nowhere"]\n', 'sinks: unknown sink "nowhere"'),
        ('[[rules]]\nname = "x"\nsinks = ["out"]\nwhen = { colour = "red" }\n', "colour"),
        ('[[rules]]\nname = "x"\nsinkz = []\n', "sinkz"),
        ("", "no rule"),
    ],
)
async def test_a_rule_that_does_not_read_is_a_400_naming_the_field(vidhook_factory, rule, said):
    vidhook = await vidhook_factory(CONFIG, run_workers=False)
    await log_in(vidhook.client, READER)
    page = await vidhook.client.get("/ui/rules")
    answer = await vidhook.client.post(
        "/ui/rules/try", data={"csrf_token": csrf_of(page.text), "rule": rule}
    )
    assert answer.status_code == 400
    message = re.search(r'id="trial-error"[^>]*>(.*?)</p>', answer.text, re.S)
    assert message and said in message.group(1).replace("&#34;", '"')


async def test_every_page_is_in_the_navigation(vidhook_factory):
    vidhook = await vidhook_factory(CONFIG, run_workers=False)
    await log_in(vidhook.client, READER)
    page = await vidhook.client.get("/ui/sinks")
    for path in ("/ui/events", "/ui/deliveries", "/ui/sinks", "/ui/tasks", "/ui/rules"):
        assert f'href="{path}"' in page.text
    assert 'href="/ui/sinks" aria-current="page"' in page.text


async def test_an_admin_pauses_and_resumes_a_sink_and_a_reader_cannot(vidhook_factory):
    vidhook = await vidhook_factory(CONFIG, run_workers=False)
    await log_in(vidhook.client, READER)
    page = await vidhook.client.get("/ui/sinks")
    assert "/pause" not in page.text
    refused = await vidhook.client.post(
        "/ui/sinks/out/pause", data={"csrf_token": csrf_of(page.text)}
    )
    assert refused.status_code == 403
    await log_in(vidhook.client, ADMIN)
    page = await vidhook.client.get("/ui/sinks")
    with structlog.testing.capture_logs() as logs:
        paused = await vidhook.client.post(
            "/ui/sinks/out/pause", data={"csrf_token": csrf_of(page.text)}
        )
    assert paused.status_code == 303
    assert any(e["event"] == "dashboard pause" and e["token"] == "ops" for e in logs)
    shown = await vidhook.client.get(paused.headers["location"])
    row = shown.text.split('id="sink-out"')[1].split("</tr>")[0]
    assert (
        "paused" in row and "by hand (token:ops)" in row and 'action="/ui/sinks/out/resume"' in row
    )
    resumed = await vidhook.client.post(
        "/ui/sinks/out/resume", data={"csrf_token": csrf_of(shown.text)}
    )
    assert resumed.status_code == 303
    again = await vidhook.client.get("/ui/sinks")
    assert 'action="/ui/sinks/out/pause"' in again.text.split('id="sink-out"')[1].split("</tr>")[0]
    missing = await vidhook.client.post("/ui/sinks/out/pause", data={})
    assert missing.status_code == 403
