"""The safety net's settings: durations with units, the query pace per API key, and the
warning for a source whose lost callbacks cannot be recovered."""

from __future__ import annotations

import pytest

from vidhook.receiver.cli import main
from vidhook.receiver.config import parse_settings, unrecoverable_callbacks
from vidhook.receiver.errors import ConfigError
from vidhook.receiver.sources import build_sources
from vidhook.receiver.store import open_store
from vidhook.receiver.tasks.query_pacing import QueryPacers


@pytest.mark.parametrize(
    ("written", "seconds"), [("600", 600.0), ('"10m"', 600.0), ('"90s"', 90.0), ('"2h"', 7200.0),
                             ('"1.5d"', 129600.0), ("0", 0.0)],
)  # fmt: skip
def test_callback_grace_takes_seconds_or_a_unit(written, seconds):
    settings = parse_settings(f'[sources.vg]\nprovider = "vibegen"\ncallback_grace = {written}')
    assert settings.sources["vg"].callback_grace == seconds


def test_the_default_grace_is_ten_minutes_and_durations_reach_the_poll_settings():
    settings = parse_settings('[sources.vg]\nprovider = "vibegen"\npoll_timeout = "45m"')
    assert settings.sources["vg"].callback_grace == 600.0
    assert settings.sources["vg"].poll_timeout == 2700.0


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ('callback_grace = "10 minutes"', "sources.vg.callback_grace"),
        ("callback_grace = -1", "sources.vg.callback_grace: must be 0 or more"),
        ("queries_per_minute = 0", "sources.vg.queries_per_minute: must be above 0"),
        ("callback_grace = true", "sources.vg.callback_grace"),
    ],
)
def test_bad_safety_net_settings_are_refused_naming_the_key(line, says):
    with pytest.raises(ConfigError) as refused:
        parse_settings(f'[sources.vg]\nprovider = "vibegen"\n{line}', env={})
    assert says in refused.value.message


def test_check_warns_that_a_callback_source_without_a_key_cannot_recover_lost_callbacks(
    tmp_path, capsys
):
    toml = (
        '[sources.ev]\nprovider = "evolink"\n'
        '[sources.vg]\nprovider = "vibegen"\napi_key = "k"\n'
        '[sources.partner]\nprovider = "generic"\nmapping = { task_id = "id", status = "s" }\n'
    )
    config = tmp_path / "vidhook.toml"
    config.write_text(toml)

    assert main(["check", "--config", str(config)]) == 0

    err = capsys.readouterr().err
    assert "sources.ev: a lost callback cannot be recovered, because it has no api_key" in err
    assert "sources.partner: a lost callback cannot be recovered" in err
    assert "sources.vg" not in err
    assert len(unrecoverable_callbacks(parse_settings(toml, env={}))) == 2


def test_sources_sharing_a_key_share_one_pace_the_slowest(tmp_path):
    settings = parse_settings(
        '[sources.a]\nprovider = "vibegen"\napi_key = "k"\n'
        '[sources.b]\nprovider = "vibegen"\napi_key = "k"\nqueries_per_minute = 120\n'
        '[sources.c]\nprovider = "vibegen"\napi_key = "other"\n'
        '[sources.d]\nprovider = "evolink"\napi_key = "k"\n',
        env={},
    )
    sources = build_sources(settings)
    pacers = QueryPacers(open_store(f"sqlite:///{tmp_path / 'unopened.db'}"))
    a, b = pacers.of(sources["a"]), pacers.of(sources["b"])
    assert a is b and a.spacing == pytest.approx(0.5)
    assert pacers.of(sources["a"]).spacing == pytest.approx(0.5)
    assert pacers.of(sources["c"]).spacing == pytest.approx(60 / 1000)  # vibegen's published
    assert pacers.of(sources["d"]) is not a
    assert pacers.of(sources["d"]).spacing == pytest.approx(0.1)
    assert "k" not in a.key  # a hash: the API key is never stored


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("600", 600.0),
        ("500ms", 0.5),
        ("90s", 90.0),
        ("10m", 600.0),
        ("2h", 7200.0),
        ("1.5d", 129600.0),
    ],
)
def test_one_duration_grammar_serves_every_key(text: str, seconds: float) -> None:
    from vidhook.receiver.config import parse_duration as server_duration
    from vidhook.receiver.durations import parse_duration

    assert parse_duration(text) == seconds
    assert server_duration("header_timeout", text) == seconds
