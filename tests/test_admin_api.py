"""The admin API over a real socket: authentication, events, deliveries, sinks, rejected
requests, sources and rules reload."""

from __future__ import annotations

import asyncio

import msgspec
import pytest

from tests.conftest import fixture_bytes, start_vidhook
from tests.stored_events import (
    ADMIN,
    CONFIG,
    HOOK,
    RAW,
    READER,
    SUBMITTER,
    bearer,
    ingest_many,
    kill_delivery,
    make_event,
)
from vidhook.receiver.config import load_settings
from vidhook.receiver.store.records import AttemptRecord


@pytest.fixture
async def vidhook(vidhook_factory):
    return await vidhook_factory(CONFIG, run_workers=False)


def error_of(answer) -> tuple[int, str, str]:
    body = answer.json()["error"]
    return answer.status_code, body["code"], body["message"]


# -- authentication ----------------------------------------------------------------------


async def test_admin_calls_need_a_bearer_token(vidhook):
    cases = [
        ({}, "missing Authorization header; send 'Authorization: Bearer <token>'"),
        ({"Authorization": f"Basic {ADMIN}"}, "Authorization must be 'Bearer <token>'"),
        ({"Authorization": "Bearer"}, "Authorization must be 'Bearer <token>'"),
        (bearer("not-a-configured-token-at-all"), "unknown API token"),
        (bearer(HOOK), "unknown API token"),  # a hook token never opens the admin API
    ]
    for headers, message in cases:
        answer = await vidhook.client.get("/admin/events", headers=headers)
        assert error_of(answer) == (401, "unauthorized", message)


async def test_scopes_are_enforced(vidhook):
    answer = await vidhook.client.post("/admin/replay", json={}, headers=bearer(READER))
    assert error_of(answer) == (403, "forbidden", "API token 'viewer' lacks the 'admin' scope")
    answer = await vidhook.client.get("/admin/events", headers=bearer(SUBMITTER))
    assert error_of(answer) == (403, "forbidden", "API token 'app' lacks the 'read' scope")
    assert (await vidhook.client.get("/admin/sinks", headers=bearer(READER))).status_code == 200


async def test_admin_scope_implies_read_and_submit_stands_alone(vidhook_factory):
    config = CONFIG.replace('scopes = ["read", "admin"]', 'scopes = ["admin"]', 1)
    assert 'scopes = ["admin"]' in config
    vidhook = await vidhook_factory(config, run_workers=False)
    for path in ("/admin/events", "/admin/deliveries", "/admin/sinks", "/admin/tasks"):
        answer = await vidhook.client.get(path, headers=bearer(ADMIN))
        assert answer.status_code == 200, (path, answer.text)
    replay = await vidhook.client.post("/admin/replay", json={"dry_run": True}, headers=bearer())
    assert replay.status_code == 200
    answer = await vidhook.client.post("/v1/submit/vibegen", json={"body": {}}, headers=bearer())
    assert error_of(answer) == (403, "forbidden", "API token 'ops' lacks the 'submit' scope")
    answer = await vidhook.client.post("/admin/replay", json={}, headers=bearer(SUBMITTER))
    assert error_of(answer) == (403, "forbidden", "API token 'app' lacks the 'admin' scope")


async def test_api_tokens_never_open_hooks(vidhook):
    body = fixture_bytes("vibegen", "callback_completed")
    answer = await vidhook.client.post(f"/hooks/vibegen/{ADMIN}", content=body)
    assert answer.status_code == 401
    answer = await vidhook.client.post("/hooks/vibegen", content=body, headers=bearer())
    assert answer.status_code == 401


# -- events --------------------------------------------------------------------------------


async def test_list_events_filters_and_pages(vidhook):
    events = [make_event(n, labels={"team": "growth" if n % 2 else "core"}) for n in range(7)]
    failed = make_event(99, status="failed", source="evolink", provider="evolink")
    await ingest_many(vidhook.services.store, [*events, failed])
    seen, cursor = [], None
    for _ in range(10):
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = (await vidhook.client.get("/admin/events", params=params, headers=bearer())).json()
        seen += [item["event"]["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted([e.id for e in [*events, failed]], reverse=True)
    filters = [
        ({"type": "task.failed"}, [failed.id]),
        ({"source": "evolink", "status": "failed"}, [failed.id]),
        ({"provider": "evolink"}, [failed.id]),
        ({"task_id": "task-3"}, [events[3].id]),
        ({"label": "team:growth", "status": "completed"}, [events[n].id for n in (5, 3, 1)]),
        ({"since": "1h", "until": "2999-01-01T00:00:00Z", "task_id": "task-0"}, [events[0].id]),
        ({"until": "2001-01-01T00:00:00Z"}, []),
    ]
    for params, expected in filters:
        page = (await vidhook.client.get("/admin/events", params=params, headers=bearer())).json()
        assert [item["event"]["id"] for item in page["items"]] == expected, params


async def test_bad_event_filters_are_400_with_the_field(vidhook):
    cases = [
        ({"since": "yesterday"}, "since: 'yesterday' is not a time"),
        ({"label": "team"}, "label: 'team' is not key:value"),
        ({"limit": "0"}, "limit"),
        ({"status": "done"}, "status"),
    ]
    for params, text in cases:
        answer = await vidhook.client.get("/admin/events", params=params, headers=bearer())
        status, _, message = error_of(answer)
        assert status == 400 and text in message, message


async def test_bad_query_values_name_the_query_parameter_sent(vidhook):
    cases = [
        ("/admin/events?type=bogus", "type"),
        ("/admin/deliveries?state=bogus", "state"),
        ("/admin/deliveries?state=nope&limit=x", "state"),
    ]
    for url, key in cases:
        status, _, message = error_of(await vidhook.client.get(url, headers=bearer()))
        assert status == 400 and f'"key":"{key}","source":"query"' in message, message
        assert "event_type" not in message and "delivery_state" not in message, message


async def test_an_event_is_found_by_a_unique_id_prefix_and_an_ambiguous_one_is_listed(vidhook):
    store = vidhook.services.store
    ids = ["01900000-0000-7000-8000-000000000001", "01900000-0000-7000-8000-000000000002"]
    for number, event_id in enumerate(ids):
        event = msgspec.structs.replace(make_event(number), id=event_id)
        await store.ingest(event, RAW, vidhook.services.route)
    one = await vidhook.client.get(
        "/admin/events/01900000-0000-7000-8000-0000000000", headers=bearer()
    )
    status, code, message = error_of(one)
    assert (status, code) == (400, "ambiguous_id") and all(i in message for i in ids)
    found = await vidhook.client.get(
        "/admin/events/01900000000070008000000000000002", headers=bearer()
    )
    assert found.json()["event"]["id"] == ids[1]
    replayed = await vidhook.client.post(f"/admin/events/{ids[0][:-1]}1/replay", headers=bearer())
    assert replayed.status_code == 200 and replayed.json()["event_id"] == ids[0]
    missing = await vidhook.client.get("/admin/events/0190ffff", headers=bearer())
    assert error_of(missing)[:2] == (404, "unknown_event")


async def test_show_event_with_raw_request_and_history(vidhook):
    body = fixture_bytes("vibegen", "callback_failed")
    hook = f"/hooks/vibegen/{HOOK}"
    answer = await vidhook.client.post(hook, content=body, headers={"X-Api-Key": "secret-x"})
    event_id = answer.json()["id"]
    dead = await kill_delivery(vidhook.services.store, "ops", "connection refused")
    detail = (await vidhook.client.get(f"/admin/events/{event_id}", headers=bearer())).json()
    assert detail["event"]["type"] == "task.failed"
    assert detail["raw"]["path"] == "/hooks/vibegen/[redacted]"
    assert detail["raw"]["headers"]["x-api-key"] == "[redacted]"
    assert detail["raw"]["body"] == body.decode()
    assert {d["sink"]: d["rule"] for d in detail["deliveries"]} == {
        "ops": "failures",
        "out": "everything",
    }
    assert [(a["delivery_id"], a["outcome"]) for a in detail["attempts"]] == [(dead, "dead")]
    missing = await vidhook.client.get("/admin/events/nope", headers=bearer())
    assert error_of(missing) == (404, "unknown_event", "no event with id 'nope'")


# -- deliveries and sinks -----------------------------------------------------------------------


async def test_deliveries_by_state_and_retry(vidhook):
    store = vidhook.services.store
    event = make_event(1, status="failed")
    await store.ingest(event, RAW, vidhook.services.route)
    dead = await kill_delivery(store, "ops")
    page = await vidhook.client.get("/admin/deliveries?state=dead", headers=bearer())
    assert [d["id"] for d in page.json()["items"]] == [dead]
    by_sink = await vidhook.client.get("/admin/deliveries?sink=out", headers=bearer())
    assert [d["sink"] for d in by_sink.json()["items"]] == ["out"]

    retried = await vidhook.client.post(f"/admin/deliveries/{dead[:-3]}/retry", headers=bearer())
    assert retried.status_code == 200
    assert retried.json()["state"] == "pending" and retried.json()["id"] == dead
    assert error_of(await vidhook.client.post("/admin/deliveries/x/retry", headers=bearer()))[
        :2
    ] == (
        404,
        "unknown_delivery",
    )


async def test_retry_refuses_delivered_and_in_flight(vidhook):
    store = vidhook.services.store
    await store.ingest(make_event(1), RAW, vidhook.services.route)
    claimed = await store.claim("out", "busy-worker", vidhook.services.clock(), 300, 1)
    answer = await vidhook.client.post(f"/admin/deliveries/{claimed[0].id}/retry", headers=bearer())
    assert error_of(answer) == (
        409,
        "in_flight",
        f"delivery {claimed[0].id} is being sent right now",
    )
    await store.finish(
        AttemptRecord(delivery_id=claimed[0].id, number=1, at="2025-01-01T00:00:00.000Z",
                      outcome="delivered", latency_ms=3.0, status_code=200)
    )  # fmt: skip
    answer = await vidhook.client.post(f"/admin/deliveries/{claimed[0].id}/retry", headers=bearer())
    status, code, message = error_of(answer)
    assert (status, code) == (409, "not_retryable") and "replay its event" in message


async def test_rejected_deliveries_are_listed_and_never_retried(vidhook):
    store = vidhook.services.store
    forged = make_event(1)
    await store.ingest(forged, RAW, vidhook.services.route, hold=True)
    note = "rejected: the provider reports status 'processing'"
    assert await store.reject_held(forged.id, note, now=vidhook.services.clock())
    page = await vidhook.client.get("/admin/deliveries?state=rejected", headers=bearer())
    assert page.status_code == 200, page.text
    [row] = page.json()["items"]
    assert (row["state"], row["last_error"]) == ("rejected", note)
    answer = await vidhook.client.post(f"/admin/deliveries/{row['id']}/retry", headers=bearer())
    assert error_of(answer) == (
        409,
        "not_retryable",
        f"delivery {row['id']} was rejected: its event was not confirmed by the provider"
        f" ({note}); it is never sent",
    )
    assert (await store.get_delivery(row["id"])).state == "rejected"


async def test_sinks_show_backlog_and_bulk_retry(vidhook):
    store = vidhook.services.store
    await ingest_many(
        store, [make_event(n, status="failed") for n in range(3)], vidhook.services.route
    )
    for _ in range(2):
        await kill_delivery(store, "ops", "connection refused")
    sinks = (await vidhook.client.get("/admin/sinks", headers=bearer())).json()["items"]
    ops = next(s for s in sinks if s["name"] == "ops")
    assert (ops["pending"], ops["dead"], ops["type"], ops["configured"]) == (1, 2, "http", True)
    assert ops["last_error"] == "connection refused" and ops["last_failure"]
    retried = await vidhook.client.post("/admin/sinks/ops/retry", headers=bearer())
    assert retried.json() == {"sink": "ops", "retried": 2}
    unknown = await vidhook.client.post("/admin/sinks/nope/retry", headers=bearer())
    assert error_of(unknown) == (
        404,
        "unknown_sink",
        "no sink named 'nope'; configured sinks: ops, out",
    )


# -- rejected, sources, rules ----------------------------------------------------------------


async def test_rejected_requests_are_listed(vidhook):
    await vidhook.client.post("/hooks/vibegen/wrong-token", content=b'{"x": 1}')
    rows = []
    for _ in range(100):  # the rejection is logged in the background after the answer
        rows = (await vidhook.client.get("/admin/rejected", headers=bearer())).json()["items"]
        if rows:
            break
        await asyncio.sleep(0.02)
    assert rows[0]["source"] == "vibegen" and rows[0]["status"] == 401
    assert rows[0]["head"] == '{"x": 1}' and "token" in rows[0]["message"]


async def test_sources_show_callback_urls_tokens_only_to_admins(vidhook):
    admin = (await vidhook.client.get("/admin/sources", headers=bearer())).json()["items"]
    by_name = {s["name"]: s for s in admin}
    assert by_name["vibegen"]["callback_url"].endswith(f"/hooks/vibegen/{HOOK}")
    assert by_name["vibegen"]["checks"] == ["token"]
    assert by_name["videoapi"]["callback_url"] is None  # polled: no callbacks
    viewer = (await vidhook.client.get("/admin/sources", headers=bearer(READER))).json()["items"]
    assert {s["name"]: s["callback_url"] for s in viewer}["vibegen"].endswith(
        "/hooks/vibegen/[redacted]"
    )


async def test_rules_reload_keeps_running_rules_when_invalid(vidhook_factory, tmp_path):
    path = tmp_path / "vidhook.toml"
    text = f'[store]\nurl = "sqlite:///{tmp_path / "r.db"}"\n' + CONFIG.replace(
        "{dir}", str(tmp_path)
    )
    path.write_text(text)
    vidhook, stop = await start_vidhook(
        load_settings(path), config_path=str(path), run_workers=False
    )
    try:
        path.write_text(text.replace('name = "everything"', 'name = "all-events"'))
        answer = await vidhook.client.post("/admin/rules/reload", headers=bearer())
        assert answer.json() == {"rules": ["failures", "all-events"]}
        path.write_text(text.replace('sinks = ["out"]', 'sinks = ["nowhere"]'))
        answer = await vidhook.client.post("/admin/rules/reload", headers=bearer())
        status, code, message = error_of(answer)
        assert (status, code) == (422, "invalid_rules")
        assert str(path) in message and 'unknown sink "nowhere"' in message
        assert [r.name for r in vidhook.services.rules.current.rules] == ["failures", "all-events"]
    finally:
        await stop()
