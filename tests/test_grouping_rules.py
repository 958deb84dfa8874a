"""Grouping keys of a rule: checked at load, turned into group joins for slack and email sinks
only, shown by `vidhook check`."""

from __future__ import annotations

import json

import pytest

from vidhook.receiver.config import parse_settings
from vidhook.receiver.errors import ConfigError
from vidhook.receiver.event import Event
from vidhook.receiver.store.records import GroupBatch, GroupJoin
from vidhook.routes.group_templates import GroupView
from vidhook.routes.rules import build_rule, load_rules, parse_rules_text

SINKS = """
[sinks.ops-slack]
type = "slack"
webhook_url = "https://hooks.slack.com/services/T0/B0/x"

[sinks.app]
type = "http"
url = "https://app.example.com/hook"
"""

EVENT = Event(
    id="0190c7d2-0000-7000-8000-000000000001",
    type="task.failed",
    source="vibegen",
    provider="vibegen",
    task_id="task-1",
    status="failed",
    provider_status="failed",
    labels={"team": "video", "a.b": "dotted"},
    received_at="2025-01-01T10:00:00.000Z",
)


def ruleset(rule: str):
    settings = parse_settings(SINKS + rule, env={})
    return load_rules(settings, config_origin="vidhook.toml", known_sinks=set(settings.sinks))


def build(text: str):
    [config] = parse_rules_text(text, origin="rules.toml")
    return build_rule(config, origin="rules.toml", known_sinks={"ops-slack", "app"})


GROUPED = """
[[rules]]
name = "failures"
sinks = ["ops-slack", "app"]
group_by = ["source", "labels.team", "labels.a.b", "error.code"]
group_wait = "45s"
group_interval = 600
"""


def test_a_grouped_rule_joins_groups_for_slack_and_email_only():
    rules = ruleset(GROUPED)
    plan = rules.plan(EVENT)
    assert plan.pairs == [("failures", "app")]
    key = json.dumps(
        [
            ["source", "vibegen"],
            ["labels.team", "video"],
            ["labels.a.b", "dotted"],
            ["error.code", ""],
        ],
        separators=(",", ":"),
    )
    assert plan.joins == [GroupJoin(rule="failures", sink="ops-slack", key=key, wait=45, every=600)]
    # Replay and `rules test` see every sink, one (rule, sink) pair each.
    assert rules.route(EVENT) == [("failures", "ops-slack"), ("failures", "app")]


def test_a_rule_without_group_by_joins_no_group():
    plan = ruleset('[[rules]]\nname = "all"\nsinks = ["ops-slack", "app"]\n').plan(EVENT)
    assert plan.joins == [] and plan.pairs == [("all", "ops-slack"), ("all", "app")]


def test_group_defaults_are_alertmanagers():
    rule = build('[[rules]]\nname = "r"\nsinks = ["ops-slack"]\ngroup_by = []\n')
    assert rule.grouping is not None
    assert (rule.grouping.by, rule.grouping.wait, rule.grouping.interval) == ((), 30.0, 300.0)


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ('group_by = ["sourc"]', "group_by: unknown event field 'sourc'; did you mean 'source'?"),
        ('group_by = ["labels."]', "group_by: unknown event field 'labels.'"),
        ('group_by = ["video_urls"]', "group_by: unknown event field 'video_urls'"),
        ('group_by = ["source"]\ngroup_wait = "0s"', "group_wait: must be above zero"),
        ('group_by = ["source"]\ngroup_interval = -5', "group_interval: must be above zero"),
        ('group_by = ["source"]\ngroup_wait = "soon"', "group_wait: 'soon' is not a duration"),
        ('group_wait = "30s"', "group_wait: needs group_by"),
    ],
)
def test_bad_grouping_keys_are_refused_naming_the_rule(keys, message):
    with pytest.raises(ConfigError) as error:
        build(f'[[rules]]\nname = "r"\nsinks = ["ops-slack"]\n{keys}\n')
    assert error.value.message.startswith('rules.toml: rule "r": ')
    assert message in error.value.message


def test_check_shows_the_grouping():
    text = ruleset(GROUPED).describe()
    assert "group by source, labels.team, labels.a.b, error.code; wait 45 s, interval 600 s" in text
    assert "grouped sinks: ops-slack" in text


def test_the_dashboard_link_takes_one_label_and_the_admin_query_every_filter():
    batch = GroupBatch(
        id="g",
        rule="r",
        key=[("model", "m1"), ("labels.team", "red"), ("labels.tier", "pro"), ("error.code", "x")],
        count=3,
        events=[],
        since="2025-01-01T10:00:00.000Z",
        until="2025-01-01T10:00:20.000Z",
    )
    view = GroupView.of(batch, "https://hooks.example.com/")
    assert view.link == (
        "https://hooks.example.com/ui/events?label=team%3Ared"
        "&since=2025-01-01T10%3A00%3A00.000Z&until=2025-01-01T10%3A00%3A21.000Z"
    )
    assert view.admin_query == (
        "/admin/events?model=m1&label=team%3Ared&label=tier%3Apro"
        "&since=2025-01-01T10%3A00%3A00.000Z&until=2025-01-01T10%3A00%3A21.000Z"
    )
    assert view.key_text == "model=m1, labels.team=red, labels.tier=pro, error.code=x"
    assert (view.more, view.emoji) == (3, "🔔")
