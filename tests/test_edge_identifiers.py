"""Identifier limits at every entry point: a task id over 512 characters, or one of `.` and
`..`, and labels, names and filter values over their limits are refused with a 4xx before any
store sees them (PostgreSQL cannot index a task id over about 2,700 bytes and answered 500)."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.conftest import fixture_bytes
from tests.stored_events import ADMIN, SUBMITTER, bearer
from tests.stored_events import CONFIG as ADMIN_CONFIG
from tests.test_receive_fixtures import CONFIG as HOOK_CONFIG
from tests.test_receive_fixtures import TOKENS
from vidhook.receiver.cli import main
from vidhook.receiver.config import parse_settings
from vidhook.receiver.errors import ConfigError
from vidhook.receiver.identifiers import MAX_LABELS, MAX_TASK_ID
from vidhook.receiver.providers import PROVIDERS
from vidhook.receiver.store.records import EventFilter

# (source, provider, fixture) of one callback of every provider that calls back.
CALLBACKS = [
    ("vibegen", "vibegen", "callback_completed"),
    ("evolink", "evolink", "callback_completed"),
    ("ark", "ark", "callback_succeeded"),
    ("partner", "generic", "partner_done"),
]
AT_LIMIT = "t" * MAX_TASK_ID
OVER_LIMIT = "t" * (MAX_TASK_ID + 1)


def with_task_id(source: str, provider: str, fixture: str, task_id: str) -> bytes:
    """The fixture's callback, its task id replaced wherever it appears."""
    body = fixture_bytes(provider, fixture)
    config = parse_settings(HOOK_CONFIG, env={}).sources[source]
    callbacks = PROVIDERS[provider].callbacks
    assert callbacks is not None
    original = callbacks.read(body, config).task_id
    text = body.decode()
    assert json.dumps(original) in text
    return text.replace(json.dumps(original), json.dumps(task_id)).encode()


async def post_callback(vidhook, source: str, body: bytes):
    return await vidhook.client.post(
        f"/hooks/{source}/{TOKENS[source]}",
        content=body,
        headers={"content-type": "application/json"},
    )


@pytest.mark.parametrize(("source", "provider", "fixture"), CALLBACKS)
@pytest.mark.parametrize("task_id", [OVER_LIMIT, "t" * 3000, ".", ".."])
async def test_a_callback_with_an_unusable_task_id_is_refused(
    vidhook_factory, source, provider, fixture, task_id
):
    vidhook = await vidhook_factory(HOOK_CONFIG)

    answer = await post_callback(vidhook, source, with_task_id(source, provider, fixture, task_id))

    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["code"] == "invalid_task_id"
    assert "512" in error["message"] or "URL path" in error["message"]
    assert await vidhook.services.store.list_events(EventFilter(), 10) == []


@pytest.mark.parametrize(("source", "provider", "fixture"), CALLBACKS)
async def test_a_callback_with_a_task_id_at_the_limit_is_stored(
    vidhook_factory, source, provider, fixture
):
    vidhook = await vidhook_factory(HOOK_CONFIG)

    answer = await post_callback(vidhook, source, with_task_id(source, provider, fixture, AT_LIMIT))

    assert answer.status_code == 200, answer.text
    stored = await vidhook.services.store.get_event(answer.json()["id"])
    assert stored.event.task_id == AT_LIMIT


def too_long(field: str, answer) -> None:
    assert answer.status_code == 400, answer.text
    assert field in answer.json()["error"]["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"end_user_id": "u" * 513}, "end_user_id"),
        ({"labels": {"team": "x" * 513}}, "labels.team"),
        ({"labels": {"k" * 65: "x"}}, "labels key"),
        ({"labels": {f"k{n}": "x" for n in range(MAX_LABELS + 1)}}, "labels has"),
    ],
)
async def test_submit_refuses_labels_over_their_limits(vidhook_factory, body, field):
    vidhook = await vidhook_factory(ADMIN_CONFIG, run_workers=False)

    answer = await vidhook.client.post(
        "/v1/submit/vibegen", json={"body": {}, **body}, headers=bearer(SUBMITTER)
    )

    too_long(field, answer)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"task_id": OVER_LIMIT}, "task id"),
        ({"task_id": "."}, "URL path"),
        ({"task_id": ".."}, "URL path"),
        ({"task_id": "t", "end_user_id": "u" * 513}, "end_user_id"),
        ({"task_id": "t", "labels": {"team": "x" * 513}}, "labels.team"),
    ],
)
async def test_watching_a_task_refuses_identifiers_over_their_limits(vidhook_factory, body, field):
    config = ADMIN_CONFIG.replace(
        '[sources.videoapi]\nprovider = "videoapi"',
        '[sources.videoapi]\nprovider = "videoapi"\napi_key = "k"\nbase_url = "http://127.0.0.1:9"',
    )
    vidhook = await vidhook_factory(config, run_workers=False)

    answer = await vidhook.client.post(
        "/admin/tasks", json={"source": "videoapi", **body}, headers=bearer(ADMIN)
    )

    too_long(field, answer)
    assert await vidhook.services.store.list_tasks(None, None, 10, now=0) == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"task_id": OVER_LIMIT}, "task_id"),
        ({"sink": "s" * 513}, "sink"),
        ({"label": "team:" + "x" * 513}, "label filter.team"),
    ],
)
async def test_event_filters_over_their_limits_are_refused(vidhook_factory, query, field):
    vidhook = await vidhook_factory(ADMIN_CONFIG, run_workers=False)

    listing = await vidhook.client.get("/admin/events", params=query, headers=bearer(ADMIN))

    assert listing.status_code == 400, listing.text
    replay_body = {"labels": {"team": "x" * 513}} if "label" in query else query
    replay = await vidhook.client.post("/admin/replay", json=replay_body, headers=bearer(ADMIN))
    too_long(field, replay)


async def test_a_task_id_at_the_limit_can_be_listed(vidhook_factory):
    vidhook = await vidhook_factory(ADMIN_CONFIG, run_workers=False)

    listing = await vidhook.client.get(
        "/admin/events", params={"task_id": AT_LIMIT}, headers=bearer(ADMIN)
    )

    assert listing.status_code == 200, listing.text


@pytest.mark.parametrize("task_id", [OVER_LIMIT, ".", ".."])
async def test_cli_watch_refuses_an_unusable_task_id(tmp_path, capsys, task_id):
    config = tmp_path / "vidhook.toml"
    config.write_text(
        f'[store]\nurl = "sqlite:///{tmp_path / "vidhook.db"}"\n'
        '[sources.videoapi]\nprovider = "videoapi"\napi_key = "k"\n'
        'base_url = "http://127.0.0.1:9"\n'
    )

    code = await asyncio.to_thread(main, ["watch", "videoapi", task_id, "--config", str(config)])

    assert code != 0
    assert "task id" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("toml", "said"),
    [
        ('[sources.vg]\nprovider = "vibegen"\nlabels = { team = "' + "x" * 513 + '" }\n', "labels"),
        ('[[api_tokens]]\nname = "' + "n" * 65 + '"\ntoken = "0123456789abcdefg"\n', "token name"),
        ("[sources." + "s" * 65 + ']\nprovider = "vibegen"\n', "source name"),
    ],
)
def test_config_names_and_labels_over_their_limits_are_refused(toml, said):
    with pytest.raises(ConfigError, match=said):
        parse_settings(toml, env={})
