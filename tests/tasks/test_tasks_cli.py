"""`vidhook submit`, `vidhook watch` and what `vidhook check` refuses about provider APIs."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.provider_harness import eventually
from tests.tasks.test_tasks_submit import source_toml
from vidhook.receiver.cli import main
from vidhook.receiver.config import check_polled_sources, parse_settings
from vidhook.receiver.errors import ConfigError
from vidhook.receiver.providers import PROVIDERS


def cli_config(tmp_path, sources: str) -> str:
    """A config file on the same store the test's vidhook will use."""
    path = tmp_path / "vidhook.toml"
    path.write_text(f'[store]\nurl = "sqlite:///{tmp_path / "vidhook.db"}"\n{sources}')
    return str(path)


async def completed_event(vidhook, source: str, task_id: str):
    async def check():
        events = await vidhook.events(source, task_id)
        return [s.event for s in events if s.event.status == "completed"]

    (event,) = await eventually(check)
    return event


async def test_submit_from_the_command_line_is_polled_by_the_server(
    fake, start_vidhook, tmp_path, capsys
):
    fake_provider, fake_url = fake
    body = tmp_path / "create.json"
    body.write_text(json.dumps({"model": "seedance-1.0", "prompt": "a red kite"}))
    config = cli_config(tmp_path, source_toml("videoapi", fake_url))
    argv = ["submit", "videoapi", str(body), "--config", config, "--label", "team=ads"]

    code = await asyncio.to_thread(main, [*argv, "--end-user-id", "u-1"])

    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    task_id = printed["task"]["task_id"]
    assert printed["task"]["labels"] == {"team": "ads", "end_user_id": "u-1"}
    assert printed["provider"]["body"]["task_id"] == task_id
    assert fake_provider.seen("create")[0].body["prompt"] == "a red kite"
    vidhook = await start_vidhook(source_toml("videoapi", fake_url))
    event = await completed_event(vidhook, "videoapi", task_id)
    assert event.labels == {"team": "ads", "end_user_id": "u-1"}


async def test_watch_from_the_command_line_is_polled_by_the_server(
    fake, start_vidhook, tmp_path, capsys
):
    fake_provider, fake_url = fake
    task_id = fake_provider.add_task("ark")
    config = cli_config(tmp_path, source_toml("ark", fake_url))

    code = await asyncio.to_thread(
        main, ["watch", "ark", task_id, "--config", config, "--label", "team=ads"]
    )

    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    assert (printed["task_id"], printed["poll"]) == (task_id, True)
    vidhook = await start_vidhook(source_toml("ark", fake_url))
    event = await completed_event(vidhook, "ark", task_id)
    assert event.labels == {"team": "ads"}
    assert event.verified_by == ["poll"]


@pytest.mark.parametrize(
    ("argv", "exit_code", "says"),
    [
        (["submit", "nowhere", "{tmp}/body.json"], 4, "no source named 'nowhere'"),
        (["submit", "vibegn", "{tmp}/body.json"], 4, "did you mean 'vibegen'?"),
        (["submit", "vibegen", "{tmp}/missing.json"], 2, "cannot read"),
        (["submit", "vibegen", "{tmp}/body.json", "--label", "team"], 2, "KEY=VALUE"),
        (["submit", "vibegen", "{tmp}/list.json"], 2, "must be a JSON object"),
        (["watch", "partner", "t-1"], 1, "cannot read source 'partner'"),
    ],
)
def test_command_line_refusals_say_why(argv, exit_code, says, tmp_path, capsys):
    (tmp_path / "body.json").write_text("{}")
    (tmp_path / "list.json").write_text("[]")
    sources = source_toml("vibegen", "http://127.0.0.1:9") + (
        '[sources.partner]\nprovider = "generic"\nmapping = { task_id = "id", status = "s" }\n'
    )
    config = cli_config(tmp_path, sources)
    argv = [arg.replace("{tmp}", str(tmp_path)) for arg in argv]

    assert main([*argv, "--config", config]) == exit_code
    assert says in capsys.readouterr().err


CHECKED = [
    (
        '[sources.partner]\nprovider = "generic"\nconfirm = true\n'
        'mapping = { task_id = "id", status = "s" }',
        "sources.partner.confirm: a generic source has no task API",
    ),
    (
        '[sources.vg]\nprovider = "vibegen"\nconfirm = true',
        "sources.vg.api_key: confirm = true reads each task back from vibegen",
    ),
    (
        '[sources.va]\nprovider = "videoapi"\nconfirm = true\napi_key = "k"',
        "sources.va.base_url:",
    ),
    ('[sources.vg]\nprovider = "vibegen"\npoll_interval = 0', "sources.vg.poll_interval"),
    ('[sources.vg]\nprovider = "vibegen"\nmax_polls_in_flight = 0', "max_polls_in_flight"),
]


@pytest.mark.parametrize(("toml", "says"), CHECKED)
def test_confirm_settings_that_cannot_work_are_refused_at_load(toml, says):
    with pytest.raises(ConfigError) as refused:
        parse_settings(toml, env={})
    assert says in refused.value.message


@pytest.mark.parametrize(
    ("toml", "says"),
    [
        (
            '[sources.sd]\nprovider = "seedanceapi"',
            "sources.sd.api_key: seedanceapi never calls back, so vidhook polls its tasks",
        ),
        ('[sources.va]\nprovider = "videoapi"\napi_key = "k"', "sources.va.base_url:"),
    ],
)
def test_check_refuses_a_polled_source_it_cannot_poll(toml, says, tmp_path, capsys):
    settings = parse_settings(toml, env={})  # the server runs it, idle
    with pytest.raises(ConfigError) as refused:
        check_polled_sources(settings)
    assert says in refused.value.message
    config = tmp_path / "vidhook.toml"
    config.write_text(toml)

    assert main(["check", "--config", str(config)]) == 3
    assert says in capsys.readouterr().err


def test_the_providers_say_which_are_polled_and_need_an_address():
    polled = {name for name, p in PROVIDERS.items() if not p.calls_back}
    assert polled == {"videoapi", "seedanceapi", "aioagi"}
    unaddressed = {name for name, p in PROVIDERS.items() if p.needs_base_url}
    assert unaddressed == {"videoapi"}
    no_task_api = {name for name, p in PROVIDERS.items() if p.task_api is None}
    assert no_task_api == {"generic"}
