"""Replays over the admin API: one event, by filter, dry runs, the size cap, and 10,000 stored
events delivered to a real HTTP sink on loopback."""

from __future__ import annotations

import asyncio

import structlog

from tests.stored_events import CONFIG, RAW, READER, bearer, ingest_many, make_event
from vidhook.receiver.store.records import EventFilter


async def test_replay_one_event_through_the_current_rules(vidhook_factory):
    vidhook = await vidhook_factory(CONFIG, run_workers=False)
    event = make_event(1, status="failed")
    await vidhook.services.store.ingest(event, RAW, vidhook.services.route)
    before = {d.sink: d for d in await vidhook.services.store.deliveries_of(event.id)}
    answer = await vidhook.client.post(f"/admin/events/{event.id}/replay", headers=bearer())
    assert answer.status_code == 200, answer.text
    made = answer.json()["deliveries"]
    assert sorted((d["sink"], d["rule"], d["replay"]) for d in made) == [
        ("ops", "failures", True),
        ("out", "everything", True),
    ]
    assert {d["webhook_id"] for d in made}.isdisjoint(d.webhook_id for d in before.values())
    detail = (await vidhook.client.get(f"/admin/events/{event.id}", headers=bearer())).json()
    assert sum(d["replay"] for d in detail["deliveries"]) == 2 and len(detail["deliveries"]) == 4


async def test_replay_one_event_to_named_sinks(vidhook_factory):
    vidhook = await vidhook_factory(CONFIG, run_workers=False)
    event = make_event(1)
    await vidhook.services.store.ingest(event, RAW, vidhook.services.route)
    url = f"/admin/events/{event.id}/replay"
    answer = await vidhook.client.post(url, json={"sinks": ["ops"]}, headers=bearer())
    assert [(d["sink"], d["rule"]) for d in answer.json()["deliveries"]] == [("ops", None)]
    unknown = await vidhook.client.post(url, json={"sinks": ["pager"]}, headers=bearer())
    assert unknown.status_code == 400
    assert unknown.json()["error"] == {
        "code": "unknown_sink",
        "message": "unknown sink 'pager'; configured sinks: ops, out",
    }
    missing = await vidhook.client.post("/admin/events/nope/replay", headers=bearer())
    assert missing.status_code == 404


async def test_held_events_are_not_replayed(vidhook_factory):
    vidhook = await vidhook_factory(CONFIG, run_workers=False)
    event = make_event(1)
    await vidhook.services.store.ingest(event, RAW, vidhook.services.route, hold=True)
    answer = await vidhook.client.post(f"/admin/events/{event.id}/replay", headers=bearer())
    assert answer.status_code == 409 and answer.json()["error"]["code"] == "event_held"
    bulk = await vidhook.client.post("/admin/replay", json={}, headers=bearer())
    assert bulk.json()["events"] == 0 and bulk.json()["skipped_held"] == 1


async def test_rejected_events_are_never_replayed(vidhook_factory):
    vidhook = await vidhook_factory(CONFIG, run_workers=False)
    store = vidhook.services.store
    forged, fine = make_event(1), make_event(2)
    await store.ingest(forged, RAW, vidhook.services.route, hold=True)
    await store.ingest(fine, RAW, vidhook.services.route)
    note = "rejected: the provider reports status 'processing'"
    assert await store.reject_held(forged.id, note, now=vidhook.services.clock())
    answer = await vidhook.client.post(f"/admin/events/{forged.id}/replay", headers=bearer())
    assert answer.status_code == 409, answer.text
    assert answer.json()["error"] == {
        "code": "event_rejected",
        "message": f"event {forged.id} was rejected when confirmed with the provider ({note});"
        " it is kept for inspection and never replayed",
    }
    named = await vidhook.client.post(
        f"/admin/events/{forged.id}/replay", json={"sinks": ["out"]}, headers=bearer()
    )
    assert named.status_code == 409
    bulk = await vidhook.client.post("/admin/replay", json={}, headers=bearer())
    assert bulk.json()["events"] == 1 and bulk.json()["skipped_rejected"] == 1
    replays = [row for row in await store.deliveries_of(forged.id) if row.replay]
    assert replays == []


async def test_bulk_replay_dry_run_then_real(vidhook_factory):
    vidhook = await vidhook_factory(CONFIG, run_workers=False)
    store = vidhook.services.store
    done = [make_event(n, labels={"team": "growth"}) for n in range(4)]
    failed = [make_event(10 + n, status="failed", labels={"team": "growth"}) for n in range(2)]
    await ingest_many(store, [*done, failed[0], failed[1], make_event(20)])
    # A late `processing` after `completed` is stored stale and was never routed.
    await store.ingest(make_event(0, status="processing", type="task.progress"), RAW, lambda e: [])
    body = {"labels": {"team": "growth"}, "since": "1h", "dry_run": True}
    dry = await vidhook.client.post("/admin/replay", json=body, headers=bearer())
    assert dry.json() == {
        "dry_run": True, "events": 6, "deliveries": 8, "by_sink": {"ops": 2, "out": 6},
        "skipped_held": 0, "skipped_rejected": 0, "skipped_stale": 0,
    }  # fmt: skip
    assert await store.list_deliveries(None, None, None, 10) == []
    real = await vidhook.client.post(
        "/admin/replay", json={**body, "dry_run": False}, headers=bearer()
    )
    assert real.json()["deliveries"] == 8 and real.json()["dry_run"] is False
    rows = await store.list_deliveries(None, None, None, 100)
    assert len(rows) == 8 and all(row.replay for row in rows)
    everything = await vidhook.client.post(
        "/admin/replay", json={"sinks": ["ops"], "dry_run": True}, headers=bearer()
    )
    assert everything.json()["by_sink"] == {"ops": 7} and everything.json()["skipped_stale"] == 1


async def test_bulk_replay_refuses_too_many_events(vidhook_factory):
    vidhook = await vidhook_factory("[server]\nmax_replay_events = 3\n" + CONFIG, run_workers=False)
    await ingest_many(vidhook.services.store, [make_event(n) for n in range(4)])
    answer = await vidhook.client.post("/admin/replay", json={"dry_run": True}, headers=bearer())
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "replay_too_large"
    assert answer.json()["error"]["message"].startswith(
        "the filter matches 4 events, more than the 3 one replay may touch; narrow it"
    )
    narrow = await vidhook.client.post(
        "/admin/replay", json={"task_id": "task-1", "dry_run": True}, headers=bearer()
    )
    assert narrow.json()["events"] == 1


async def test_bulk_replay_refuses_bad_bodies(vidhook_factory):
    vidhook = await vidhook_factory(CONFIG, run_workers=False)
    cases = [
        ({"sinks": ["nope"]}, "unknown sink 'nope'"),
        ({"sinks": []}, "name at least one sink"),
        ({"since": "last week"}, "since: 'last week' is not a time"),
        ({"status": "done"}, "status"),
        ({"colour": "red"}, "colour"),
    ]
    for body, text in cases:
        answer = await vidhook.client.post("/admin/replay", json=body, headers=bearer())
        assert answer.status_code == 400 and text in answer.json()["error"]["message"], body
    forbidden = await vidhook.client.post("/admin/replay", json={}, headers=bearer(READER))
    assert forbidden.status_code == 403


REPLAY_TO_HTTP = """
[server]
max_replay_events = 10000

[[api_tokens]]
name = "ops"
token = "admin-token-0123456789"
scopes = ["read", "admin"]

[sources.vibegen]
provider = "vibegen"
tokens = ["hook-token-0123456789"]

[sinks.app]
type = "http"
url = "{url}"
concurrency = 32

[[rules]]
name = "everything"
sinks = ["app"]
"""


class KeepAliveSink:
    """An HTTP/1.1 endpoint on loopback that keeps connections open (as real receivers do),
    answers every POST 200 and records each `webhook-id`."""

    def __init__(self) -> None:
        self.webhook_ids: list[str] = []
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}/hook"

    async def __aenter__(self) -> KeepAliveSink:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
                headers = dict(line.lower().split(": ", 1) for line in head[1:] if line)
                await reader.readexactly(int(headers.get("content-length", "0")))
                self.webhook_ids.append(headers["webhook-id"])
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()


async def test_replay_of_ten_thousand_events_delivers_every_one(vidhook_factory):
    count = 10_000
    async with KeepAliveSink() as sink:
        vidhook = await vidhook_factory(REPLAY_TO_HTTP.replace("{url}", sink.url))
        store = vidhook.services.store
        await ingest_many(store, [make_event(n) for n in range(count)])
        assert await store.count_events(EventFilter()) == count
        # 20,000 log lines would only fill the captured output.
        with structlog.testing.capture_logs():
            answer = await vidhook.client.post(
                "/admin/replay", json={"source": "vibegen"}, headers=bearer(), timeout=60
            )
            assert answer.json() == {
                "dry_run": False, "events": count, "deliveries": count, "by_sink": {"app": count},
                "skipped_held": 0, "skipped_rejected": 0, "skipped_stale": 0,
            }  # fmt: skip
            for _ in range(1800):  # bounded: at most about three minutes on a busy machine
                if len(sink.webhook_ids) >= count and (await store.sink_stats())[0].pending == 0:
                    break
                await asyncio.sleep(0.1)
        assert len(set(sink.webhook_ids)) == count
        stats = (await store.sink_stats())[0]
        assert (stats.delivered, stats.pending, stats.dead) == (count, 0, 0)
