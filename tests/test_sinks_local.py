"""The log and file sinks, message templates, and the sink registry."""

from __future__ import annotations

import asyncio
import json
from importlib.metadata import EntryPoint

import httpx
import msgspec
import pytest
import structlog
from sink_servers import make_delivery, make_event, make_failed_event

from vidhook.receiver.errors import ConfigError
from vidhook.receiver.event import Event
from vidhook.routes.sinks import SINK_TYPES, build_sinks, load_sink_types
from vidhook.routes.sinks.base import (
    Delivery,
    SendResult,
    SinkConfig,
    SinkContext,
    SinkError,
    SinkType,
)
from vidhook.routes.sinks.file import FileConfig, FileSink
from vidhook.routes.sinks.log import LogConfig, LogSink
from vidhook.routes.templates import (
    compile_template,
    default_template,
    format_duration,
    generation_seconds,
)


@pytest.fixture
async def context():
    async with httpx.AsyncClient() as client:
        yield SinkContext(http=client)


# log


async def test_log_sink_writes_one_line_with_the_event_fields(context):
    sink = LogSink("log", LogConfig(type="log", level="warning"), context)
    with structlog.testing.capture_logs() as logs:
        result = await sink.send(make_delivery(make_failed_event()))
    [line] = logs
    assert result == SendResult()
    assert line["log_level"] == "warning"
    assert line["event"] == "video event"
    assert line["sink"] == "log"
    assert line["event_id"] == "0190a000-0000-7000-8000-000000000001"
    assert line["event_type"] == "task.failed"
    assert (line["source"], line["task_id"], line["status"]) == ("vibegen", "task-42", "failed")
    assert line["error"] == {"code": "content_policy", "message": "Prompt <rejected> & refunded"}
    assert line["labels"] == {"team": "growth"}
    assert "video_urls" not in line  # empty fields are left out
    assert line["webhook_id"] == "msg_2b8f4c1e"


# file


async def test_file_sink_appends_one_json_line_per_event(context, tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text('{"earlier": true}\n')
    sink = FileSink("file", FileConfig(type="file", path=str(path), fsync=True), context)
    await sink.send(make_delivery())
    await sink.send(make_delivery(make_failed_event()))
    first, second, third = path.read_bytes().splitlines()
    assert json.loads(first) == {"earlier": True}
    assert msgspec.json.decode(second, type=Event) == make_event()
    assert msgspec.json.decode(third, type=Event).status == "failed"


async def test_file_sink_lines_never_interleave_under_concurrency(context, tmp_path):
    path = tmp_path / "events.jsonl"
    sink = FileSink("file", FileConfig(type="file", path=str(path)), context)
    events = [make_event(task_id=f"task-{i}", labels={"pad": "x" * 5000}) for i in range(60)]
    await asyncio.gather(*(sink.send(make_delivery(e)) for e in events))
    lines = path.read_bytes().splitlines()
    decoded = sorted(msgspec.json.decode(line, type=Event).task_id for line in lines)
    assert decoded == sorted(e.task_id for e in events)


async def test_file_sink_io_error_is_retryable(context, tmp_path):
    (tmp_path / "not-a-dir").write_text("")
    path = tmp_path / "not-a-dir" / "events.jsonl"
    sink = FileSink("file", FileConfig(type="file", path=str(path)), context)
    with pytest.raises(SinkError) as caught:
        await sink.send(make_delivery())
    assert caught.value.retryable is True
    assert "events.jsonl" in caught.value.message


# templates


def test_format_duration():
    assert [format_duration(s) for s in (None, 0, 45.4, 95, 3600 + 125)] == [
        "", "0s", "45s", "1m 35s", "1h 02m",
    ]  # fmt: skip


def test_generation_seconds():
    assert generation_seconds(make_event()) == 95
    assert generation_seconds(make_event(finished_at=None)) is None
    assert generation_seconds(make_event(created_at="yesterday")) is None


def test_templates_see_the_event_and_derived_values():
    source = "{{ status_emoji }} {{ event.task_id }} {{ generation_seconds }} {{ generation_time }}"
    template = compile_template(source, where="sinks.t.template")
    assert template.render(make_event()) == "✅ task-42 95.0 1m 35s"
    assert compile_template("{{ 3725 | duration }}", where="x").render(make_event()) == "1h 02m"


def test_html_templates_autoescape_and_text_templates_do_not():
    event = make_failed_event()
    html = compile_template("{{ event.error.message }}", where="x", html=True)
    text = compile_template("{{ event.error.message }}", where="x")
    assert html.render(event) == "Prompt &lt;rejected&gt; &amp; refunded"
    assert text.render(event) == "Prompt <rejected> & refunded"


def test_absent_labels_and_fields_render_as_nothing_at_send():
    template = compile_template("[{{ event.labels.team }}][{{ event.error.code }}]", where="x")
    assert template.render(make_event(labels={})) == "[][]"


@pytest.mark.parametrize(
    "source",
    [
        "{{ event.__class__ }}",
        "{{ event.__class__.__mro__[1].__subclasses__() }}",
        "{{ ''.__class__.__base__ }}",
        "{{ event.__struct_fields__ }}",
        "{{ event.labels.__class__.fromkeys }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ event.labels.clear() }}",
        "{{ event.video_urls.append('x') }}",
    ],
)
def test_sandbox_refuses_unsafe_attributes_at_build(source):
    with pytest.raises(ConfigError) as caught:
        compile_template(source, where="sinks.ops.template")
    assert caught.value.message.startswith("sinks.ops.template: template error: SecurityError")


def test_misspelt_field_and_syntax_errors_are_config_errors():
    with pytest.raises(ConfigError, match=r"sinks\.a\.text: template error.*taks_id"):
        compile_template("{{ event.taks_id }}", where="sinks.a.text")
    with pytest.raises(ConfigError, match=r"sinks\.a\.text: template syntax error on line 2"):
        compile_template("ok\n{% for x in %}", where="sinks.a.text")


def test_render_error_names_the_template():
    template = compile_template("{{ 10 // event.progress }}", where="sinks.a.text")
    with pytest.raises(Exception, match=r"sinks\.a\.text: cannot render: ZeroDivisionError"):
        template.render(make_event(progress=0))


@pytest.mark.parametrize("name", ["slack_text", "email_subject", "email_text", "email_html"])
def test_default_templates_compile_and_render(name):
    template = compile_template(default_template(name), where=name, html=name == "email_html")
    for event in (make_event(), make_failed_event(), make_event(credits=None, created_at=None)):
        assert "task-42" in template.render(event)


# registry


class EchoConfig(SinkConfig, kw_only=True, forbid_unknown_fields=True):
    prefix: str


class EchoSink:
    def __init__(self, name: str, config: EchoConfig, context: SinkContext) -> None:
        self.name = name
        self.config = config

    async def send(self, delivery: Delivery) -> SendResult:
        return SendResult(response_excerpt=self.config.prefix + delivery.event.task_id)


ECHO = SinkType(EchoConfig, EchoSink)
NOT_A_SINK_TYPE = object()


def entry_point(name: str, value: str) -> EntryPoint:
    return EntryPoint(name=name, value=value, group="vidhook.sinks")


def test_builtin_types():
    assert sorted(SINK_TYPES) == ["apprise", "email", "file", "http", "log", "slack"]


async def test_entry_points_add_sink_types(context):
    types = load_sink_types([entry_point("echo", "test_sinks_local:ECHO")])
    assert types["echo"] is ECHO and types["slack"] is SINK_TYPES["slack"]
    sinks = build_sinks({"mirror": {"type": "echo", "prefix": "> "}}, context, types)
    assert (await sinks["mirror"].send(make_delivery())).response_excerpt == "> task-42"


def test_installed_entry_points_load_without_error():
    assert set(SINK_TYPES) <= set(load_sink_types())


@pytest.mark.parametrize(
    ("point", "message"),
    [
        (entry_point("slack", "test_sinks_local:ECHO"), "may not replace the built-in"),
        (entry_point("odd", "test_sinks_local:NOT_A_SINK_TYPE"), "not a SinkType"),
        (entry_point("gone", "no_such_module_here:TYPE"), "cannot load: ModuleNotFoundError"),
    ],
)
def test_bad_entry_points_are_config_errors(point, message):
    with pytest.raises(ConfigError, match=message):
        load_sink_types([point])


async def test_build_sinks_builds_every_builtin_type(context, tmp_path):
    configs = {
        "ops-slack": {"type": "slack", "webhook_url": "https://hooks.slack.com/services/T/B/X"},
        "ops-email": {"type": "email", "host": "smtp.example.com", "username": "u",
                      "password": "p", "sender": "a@example.com", "to": ["b@example.com"]},
        "app": {"type": "http", "url": "https://app.internal/x", "format": "cloudevents",
                "concurrency": 2, "timeout": 5, "retry_schedule": [1, 10]},
        "log": {"type": "log"},
        "file": {"type": "file", "path": str(tmp_path / "events.jsonl")},
    }  # fmt: skip
    sinks = build_sinks(configs, context)
    assert {name: type(sink).__name__ for name, sink in sinks.items()} == {
        "ops-slack": "SlackSink", "ops-email": "EmailSink", "app": "HttpSink",
        "log": "LogSink", "file": "FileSink",
    }  # fmt: skip
    assert sinks["app"].config.retry_schedule == [1, 10]
    assert sinks["ops-email"].config.port == 587


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"type": "pager"}, "sinks.s.type: unknown sink type 'pager'; known types: apprise, "
                            "email, file, http, log, slack"),
        ({}, "sinks.s.type: unknown sink type None"),
        ({"type": "slack"}, "sinks.s.webhook_url: Object missing required field `webhook_url`"),
        ({"type": "slack", "webhook_url": "https://x.example/", "webhok": 1},
         "sinks.s.webhok: Object contains unknown field `webhok`"),
        ({"type": "email", "host": "h", "sender": "a", "to": ["b"], "port": "x"},
         "sinks.s.port: Expected `int`, got `str`"),
        ({"type": "email", "host": "h", "sender": "a", "to": ["b", 3]},
         "sinks.s.to[1]: Expected `str`, got `int`"),
        ({"type": "http", "url": "https://x.example/", "format": "xml"},
         "sinks.s.format: Invalid enum value 'xml'"),
        ({"type": "slack", "webhook_url": "https://x.example/", "template": "{{ event.nope }}"},
         "sinks.s.template: template error"),
    ],
)  # fmt: skip
def test_config_errors_name_the_field(context, raw, message):
    with pytest.raises(ConfigError) as caught:
        build_sinks({"s": raw}, context)
    assert caught.value.message.startswith(message)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("concurrency", 0, "sinks.s.concurrency: Expected `int` >= 1"),
        ("timeout", 0, "sinks.s.timeout: Expected `float` > 0.0"),
        ("timeout", -2.5, "sinks.s.timeout: Expected `float` > 0.0"),
        ("timeout", float("nan"), "sinks.s.timeout: Expected `float` > 0.0"),
        ("retry_schedule", [5, -1], "sinks.s.retry_schedule[1]: Expected `float` >= 0.0"),
        ("retry_schedule", [], "sinks.s.retry_schedule: Expected `array` of length >= 1"),
        ("lease_margin", -1, "sinks.s.lease_margin: Expected `float` >= 0.0"),
    ],
)
def test_common_options_out_of_range_are_refused(context, field, value, message):
    raw = {"type": "log", field: value}
    with pytest.raises(ConfigError) as caught:
        build_sinks({"s": raw}, context)
    assert caught.value.message == message


def test_common_options_at_their_bounds_load(context):
    raw = {"type": "log", "concurrency": 1, "timeout": 0.01, "retry_schedule": [0],
           "lease_margin": 0}  # fmt: skip
    config = build_sinks({"s": raw}, context)["s"].config
    assert (config.concurrency, config.retry_schedule, config.lease_margin) == (1, [0], 0)


def test_sink_names_are_checked(context):
    with pytest.raises(ConfigError, match=r"sinks\.bad name: a sink name"):
        build_sinks({"bad name": {"type": "log"}}, context)
