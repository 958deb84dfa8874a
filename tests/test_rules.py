"""Routing rules: matching order, stop, sink dedupe, loading from files, errors, reload."""

from __future__ import annotations

from pathlib import Path

import pytest

from vidhook.receiver.config import RuleConfig, Settings, parse_settings
from vidhook.receiver.errors import ConfigError
from vidhook.receiver.event import ErrorInfo, Event, EventType, Status
from vidhook.routes.rules import Rule, RuleHolder, RuleSet, build_rule, load_rules, parse_rules_text

SINKS = {"ops-slack", "ops-email", "app", "log"}


def event(
    status: Status = "completed", type: EventType = "task.completed", **extra: object
) -> Event:
    fields: dict[str, object] = {
        "id": "0190c7d2-0000-7000-8000-000000000001",
        "type": type,
        "source": "vibegen",
        "provider": "vibegen",
        "task_id": "task-1",
        "status": status,
        "provider_status": status,
        "received_at": "2025-01-01T10:00:00.000Z",
    }
    return Event(**(fields | extra))  # type: ignore[arg-type]


COMPLETED = event(labels={"team": "ops"}, video_urls=["https://cdn.example.com/a.mp4"])
FAILED = event("failed", "task.failed", error=ErrorInfo(message="boom", code="timeout"))
PROGRESS = event("processing", "task.progress", progress=40)


def rules(text: str) -> RuleSet:
    configs = parse_rules_text(text, origin="test.toml")
    return RuleSet(tuple(build_rule(c, origin="test.toml", known_sinks=SINKS) for c in configs))


SPEC_EXAMPLE = """
[[rules]]
name = "failures-to-people"
when = { type = "task.failed" }
sinks = ["ops-slack", "ops-email"]

[[rules]]
name = "everything-to-app"
sinks = ["app"]
"""

DEDUPE = """
[[rules]]
name = "ops-team"
when = { "labels.team" = "ops" }
sinks = ["app", "ops-slack"]

[[rules]]
name = "all"
sinks = ["log", "app"]
"""

STOP = """
[[rules]]
name = "quiet-progress"
when = { type = "task.progress" }
sinks = []
stop = true

[[rules]]
name = "failures"
when = { status = { "$in" = ["failed", "cancelled", "expired"] } }
sinks = ["ops-slack"]
stop = true

[[rules]]
name = "all"
sinks = ["app"]
"""

ROUTING = [
    (SPEC_EXAMPLE, FAILED, [("failures-to-people", "ops-slack"),
                            ("failures-to-people", "ops-email"),
                            ("everything-to-app", "app")]),
    (SPEC_EXAMPLE, COMPLETED, [("everything-to-app", "app")]),
    (DEDUPE, COMPLETED, [("ops-team", "app"), ("ops-team", "ops-slack"), ("all", "log")]),
    (DEDUPE, FAILED, [("all", "log"), ("all", "app")]),
    (STOP, PROGRESS, []),
    (STOP, FAILED, [("failures", "ops-slack")]),
    (STOP, COMPLETED, [("all", "app")]),
    ("", COMPLETED, []),
    ('[[rules]]\nname = "twice"\nsinks = ["app", "app"]', COMPLETED, [("twice", "app")]),
]  # fmt: skip


@pytest.mark.parametrize(("text", "evt", "expected"), ROUTING)
def test_route(text: str, evt: Event, expected: list[tuple[str, str]]) -> None:
    assert rules(text).route(evt) == expected


def test_matched_honours_stop_and_skips_non_matching_rules() -> None:
    ruleset = rules(STOP)
    assert [r.name for r in ruleset.matched(COMPLETED)] == ["all"]
    assert [r.name for r in ruleset.matched(FAILED)] == ["failures"]
    assert len(ruleset) == 3


def test_a_rule_without_when_matches_everything() -> None:
    rule = Rule(name="all", sinks=("app",))
    assert RuleSet((rule,)).route(PROGRESS) == [("all", "app")]


def test_describe_lists_every_rule() -> None:
    text = rules(STOP).describe()
    assert "1. quiet-progress  (test.toml)" in text
    assert 'when  {"type": "task.progress"}' in text
    assert "sinks (none: drop)  then stop" in text
    assert "3. all  (test.toml)\n     when  every event\n     sinks app" in text
    assert "no rules" in RuleSet().describe()


MAIN_CONFIG = """
rules_dir = "rules.d"

[sinks.ops-slack]
type = "slack"
[sinks.app]
type = "http"

[[rules]]
name = "failures"
when = { type = "task.failed" }
sinks = ["ops-slack"]
"""


def write_rules(directory: Path, files: dict[str, str]) -> None:
    directory.mkdir(exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text, encoding="utf-8")


def load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, files: dict[str, str]) -> RuleSet:
    monkeypatch.chdir(tmp_path)
    write_rules(tmp_path / "rules.d", files)
    settings = parse_settings(MAIN_CONFIG, origin="vidhook.toml", env={})
    return load_rules(settings, config_origin="vidhook.toml", known_sinks=set(settings.sinks))


def test_load_reads_main_config_then_files_sorted_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ruleset = load(
        tmp_path,
        monkeypatch,
        {
            "20-app.toml": '[[rules]]\nname = "app"\nsinks = ["app"]',
            "10-team.toml": '[[rules]]\nname = "team"\nwhen = { "labels.team" = "ops" }\n'
            'sinks = ["ops-slack"]\nstop = true\n\n[[rules]]\nname = "team-2"\nsinks = ["app"]',
            "notes.txt": "not a rules file",
            ".hidden.toml": "not even TOML",
            "empty.toml": "",
        },
    )
    assert [(r.name, r.origin) for r in ruleset.rules] == [
        ("failures", "vidhook.toml"),
        ("team", "rules.d/10-team.toml"),
        ("team-2", "rules.d/10-team.toml"),
        ("app", "rules.d/20-app.toml"),
    ]
    assert ruleset.route(COMPLETED) == [("team", "ops-slack")]
    assert ruleset.route(FAILED) == [("failures", "ops-slack"), ("team-2", "app")]


def test_no_rules_dir_means_main_config_only() -> None:
    settings = Settings(rules=[RuleConfig(name="all", sinks=["app"])])
    ruleset = load_rules(settings, config_origin="vidhook.toml", known_sinks={"app"})
    assert [r.name for r in ruleset.rules] == ["all"]


TEAM = "rules.d/team.toml"
LOAD_ERRORS = [
    ('[[rules]]\nname = "failures"\nsinks = ["slak"]',
     f'{TEAM}: rule "failures": sinks: unknown sink "slak"; did you mean \'ops-slack\'?'
     " (known: app, ops-slack)"),
    ('[[rules]]\nname = "x"\nwhen = { "labels.team" = { "$equals" = "ops" } }\nsinks = ["app"]',
     f'{TEAM}: rule "x": when.labels.team: unknown operator $equals'),
    ('[[rules]]\nname = "x"\nwhen = { model = { "$regex" = "([" } }\nsinks = ["app"]',
     f'{TEAM}: rule "x": when.model: $regex: invalid pattern'),
    ('[[rules]]\nname = "x"\nwhen = { colour = "red" }\nsinks = ["app"]',
     f"{TEAM}: rule \"x\": when.colour: unknown event field 'colour'"),
    ('[[rules]]\nname = "x"\nwhn = { type = "task.failed" }\nsinks = ["app"]',
     f'{TEAM}: rule "x": Object contains unknown field `whn`'),
    ('[[rules]]\nname = "x"\nsinks = "app"',
     f'{TEAM}: rule "x": Expected `array`, got `str` - at `$.sinks`'),
    ('[[rules]]\nsinks = ["app"]',
     f"{TEAM}: rules[0]: Object missing required field `name`"),
    ('[[rules]]\nname = " "\nsinks = ["app"]',
     f"{TEAM}: a rule has an empty name"),
    ('[[rules]]\nname = "x"\nsinks = []',
     f'{TEAM}: rule "x": sinks: empty; a rule without sinks needs stop = true'),
    ('[[rule]]\nname = "x"\nsinks = ["app"]',
     f"{TEAM}: unknown key 'rule'; a rules file holds [[rules]] only"),
    ('rules = "x"',
     f"{TEAM}: rules: write each rule as a [[rules]] table"),
    ('[[rules]\nname = "x"',
     f"{TEAM}: not valid TOML"),
    ('[[rules]]\nname = "failures"\nsinks = ["app"]',
     f'{TEAM}: rule "failures": duplicate name (also in vidhook.toml)'),
    ('[[rules]]\nname = "a"\nsinks = ["app"]\n[[rules]]\nname = "a"\nsinks = ["app"]',
     f'{TEAM}: rule "a": duplicate name (also in {TEAM})'),
]  # fmt: skip


@pytest.mark.parametrize(("text", "message"), LOAD_ERRORS)
def test_load_errors_name_file_rule_and_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, monkeypatch, {"team.toml": text})
    assert caught.value.message.startswith(message), caught.value.message


def test_main_config_errors_name_the_config_file() -> None:
    settings = Settings(rules=[RuleConfig(name="r", sinks=["app"], when={"type": {"$gt": []}})])
    with pytest.raises(ConfigError, match=r'^vidhook\.toml: rule "r": when\.type: \$gt takes'):
        load_rules(settings, config_origin="vidhook.toml", known_sinks={"app"})


def test_unknown_sink_with_no_sinks_configured() -> None:
    settings = Settings(rules=[RuleConfig(name="r", sinks=["app"])])
    with pytest.raises(ConfigError, match=r'unknown sink "app" \(known: none configured\)'):
        load_rules(settings, config_origin="vidhook.toml", known_sinks=set())


def test_missing_rules_dir_is_refused(tmp_path: Path) -> None:
    settings = Settings(rules_dir=str(tmp_path / "nowhere"))
    with pytest.raises(ConfigError, match=r"^rules_dir: .*nowhere is not a directory"):
        load_rules(settings, config_origin="vidhook.toml", known_sinks=set())


def test_unreadable_rules_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "bad.toml").write_bytes(b"\xff\xfe")
    settings = Settings(rules_dir=str(tmp_path))
    with pytest.raises(ConfigError, match=r"bad\.toml: cannot read"):
        load_rules(settings, config_origin="vidhook.toml", known_sinks=set())


def test_reload_swaps_the_rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = {"team.toml": '[[rules]]\nname = "app"\nsinks = ["app"]'}
    holder = RuleHolder(lambda: load(tmp_path, monkeypatch, files))
    assert holder.current.route(COMPLETED) == [("app", "app")]

    files["team.toml"] = '[[rules]]\nname = "slack"\nsinks = ["ops-slack"]'
    fresh = holder.reload()
    assert fresh is holder.current
    assert holder.current.route(COMPLETED) == [("slack", "ops-slack")]


def test_failed_reload_keeps_the_running_rules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {"team.toml": '[[rules]]\nname = "app"\nsinks = ["app"]'}
    holder = RuleHolder(lambda: load(tmp_path, monkeypatch, files))
    running = holder.current

    files["team.toml"] = '[[rules]]\nname = "app"\nsinks = ["slak"]'
    with pytest.raises(ConfigError, match=r'rules\.d/team\.toml: rule "app": sinks: unknown sink'):
        holder.reload()
    assert holder.current is running
    assert holder.current.route(FAILED) == [("failures", "ops-slack"), ("app", "app")]


def test_holder_takes_initial_rules_without_loading() -> None:
    def broken() -> RuleSet:
        raise ConfigError("rules.d/x.toml: not valid TOML")

    initial = RuleSet((Rule(name="all", sinks=("app",)),))
    holder = RuleHolder(broken, initial)
    assert holder.current is initial
    with pytest.raises(ConfigError):
        holder.reload()
    assert holder.current is initial
    with pytest.raises(ConfigError, match="not valid TOML"):
        RuleHolder(broken)
