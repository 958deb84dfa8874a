"""The `when` filter: every operator, nested paths, lists, missing fields, and load errors."""

from __future__ import annotations

import tomllib
from typing import Any

import msgspec
import pytest

from vidhook.receiver.errors import ConfigError
from vidhook.receiver.event import Credits, ErrorInfo, Event
from vidhook.routes.filter import Filter, compile_filter

COMPLETED = Event(
    id="0190c7d2-0000-7000-8000-000000000001",
    type="task.completed",
    source="vibegen",
    provider="vibegen",
    task_id="task-1",
    status="completed",
    provider_status="completed",
    model="seedance-1-0-pro",
    video_urls=["https://cdn.example.com/a.mp4", "https://cdn.example.com/b.webm"],
    progress=100,
    credits=Credits(reserved=12.5, refunded=False),
    labels={"team": "ops", "end_user_id": "u-42"},
    created_at="2025-01-01T10:00:00.000Z",
    finished_at="2025-01-01T10:02:30.000Z",
    received_at="2025-01-01T10:02:31.000Z",
    verified_by=["token", "provider-api"],
)

FAILED = Event(
    id="0190c7d2-0000-7000-8000-000000000002",
    type="task.failed",
    source="evolink",
    provider="evolink",
    task_id="task-2",
    status="cancelled",
    provider_status="failed",
    error=ErrorInfo(message="Cancelled by user", code="request_cancelled"),
    labels={"team": "growth"},
    received_at="2025-01-02T08:00:00.000Z",
)


def when(snippet: str) -> dict[str, Any]:
    """The `when` table of an inline TOML snippet."""
    table: dict[str, Any] = tomllib.loads(f"when = {snippet}")["when"]
    return table


def check(snippet: str, event: Event) -> bool:
    return compile_filter(when(snippet)).matches(msgspec.to_builtins(event))


# (snippet, matches COMPLETED, matches FAILED)
MATCHING = [
    # bare values and $eq
    ('{ type = "task.completed" }', True, False),
    ('{ status = { "$eq" = "cancelled" } }', False, True),
    ('{ type = "task.failed", source = "evolink" }', False, True),
    ('{ type = "task.failed", source = "vibegen" }', False, False),
    ("{ progress = 100 }", True, False),
    ("{ progress = 100.0 }", True, False),
    ('{ progress = "100" }', False, False),
    # nested paths: dotted, and as sub-tables
    ('{ "labels.team" = "ops" }', True, False),
    ('{ labels = { team = "growth" } }', False, True),
    ('{ "error.code" = "request_cancelled" }', False, True),
    ('{ error = { code = "request_cancelled", message = "Cancelled by user" } }', False, True),
    ('{ "credits.reserved" = 12.5 }', True, False),
    ('{ "credits.refunded" = false }', True, False),
    ("{ credits = { refunded = 0 } }", False, False),
    ('{ "labels.missing" = "x" }', False, False),
    # $ne: also matches a missing field
    ('{ status = { "$ne" = "completed" } }', False, True),
    ('{ "labels.end_user_id" = { "$ne" = "u-42" } }', False, True),
    # $in / $nin
    ('{ status = { "$in" = ["failed", "cancelled", "expired"] } }', False, True),
    ('{ status = { "$nin" = ["failed", "cancelled", "expired"] } }', True, False),
    ('{ model = { "$nin" = ["seedance-1-0-pro"] } }', False, True),
    ('{ model = { "$in" = [] } }', False, False),
    # list fields: any element matches
    ('{ verified_by = "provider-api" }', True, False),
    ('{ verified_by = { "$in" = ["hmac", "token"] } }', True, False),
    ('{ verified_by = { "$ne" = "token" } }', False, True),
    ('{ verified_by = ["token", "provider-api"] }', True, False),
    ('{ verified_by = ["provider-api", "token"] }', False, False),
    ('{ video_urls = { "$regex" = "\\\\.webm$" } }', True, False),
    ('{ video_urls = { "$exists" = true } }', True, True),
    # $regex: re.search on strings, never on other types
    ('{ model = { "$regex" = "^seedance-1" } }', True, False),
    ('{ model = { "$regex" = "pro" } }', True, False),
    ('{ "error.message" = { "$regex" = "(?i)cancel" } }', False, True),
    ('{ progress = { "$regex" = "100" } }', False, False),
    # $exists: absent or null is missing
    ('{ error = { "$exists" = false } }', True, False),
    ('{ error = { "$exists" = true } }', False, True),
    ('{ model = { "$exists" = false } }', False, True),
    ('{ "labels.end_user_id" = { "$exists" = true } }', True, False),
    ('{ "error.code" = { "$exists" = true } }', False, True),
    # ordered comparisons: numbers with numbers, strings with strings
    ('{ progress = { "$gt" = 50 } }', True, False),
    ('{ progress = { "$gte" = 100, "$lte" = 100 } }', True, False),
    ('{ progress = { "$lt" = 100 } }', False, False),
    ('{ "credits.reserved" = { "$gt" = 10, "$lt" = 20.5 } }', True, False),
    ('{ "credits.reserved" = { "$gt" = "10" } }', False, False),
    ('{ received_at = { "$gte" = "2025-01-02T00:00:00Z" } }', False, True),
    ('{ received_at = { "$lt" = 2025-01-02T00:00:00Z } }', True, False),
    ('{ received_at = { "$gt" = 2025-01-02T09:00:00+02:00 } }', False, True),
    ('{ finished_at = { "$lt" = "2030" } }', True, False),
    ('{ "credits.refunded" = { "$lt" = 1 } }', False, False),
    ('{ video_urls = { "$gt" = "https://cdn.example.com/b" } }', True, False),
    # $and / $or / $not
    ('{ "$or" = [{ status = "completed" }, { "error.code" = "timeout" }] }', True, False),
    ('{ "$or" = [{ "labels.team" = "x" }, { "error.code" = "request_cancelled" }] }', False, True),
    ('{ "$and" = [{ "labels.team" = "ops" }, { type = "task.completed" }] }', True, False),
    ('{ "$and" = [{ "labels.team" = "ops" }, { type = "task.failed" }] }', False, False),
    ('{ "$not" = { type = "task.completed" } }', False, True),
    ('{ status = { "$not" = { "$in" = ["completed", "failed"] } } }', False, True),
    ('{ model = { "$not" = { "$regex" = "pro" } } }', False, True),
    (
        '{ error = { "$or" = [{ code = "timeout" }, { message = { "$regex" = "user" } }] } }',
        False,
        True,
    ),
    (
        '{ "$or" = [{ "$not" = { source = "vibegen" } }, { progress = { "$gt" = 99 } }] }',
        True,
        True,
    ),
    # an empty filter matches every event
    ("{}", True, True),
]


@pytest.mark.parametrize(("snippet", "completed", "failed"), MATCHING, ids=[c[0] for c in MATCHING])
def test_matching(snippet: str, completed: bool, failed: bool) -> None:
    assert check(snippet, COMPLETED) is completed
    assert check(snippet, FAILED) is failed


# (snippet, words the error message must contain)
INVALID = [
    ('{ "labels.team" = { "$equals" = "ops" } }', "when.labels.team: unknown operator $equals"),
    ('{ labels = { team = { "$equals" = "ops" } } }', "when.labels.team: unknown operator $equals"),
    ('{ stauts = "failed" }', "when.stauts: unknown event field 'stauts'"),
    ('{ "error.kind" = "x" }', "when.error.kind: unknown field 'error.kind' (error has:"),
    ('{ error = { kind = "x" } }', "when.error.kind: unknown field 'error.kind'"),
    ('{ "labels.a.b" = "x" }', "when.labels.a.b: unknown field"),
    ('{ "status.x" = "x" }', "status has no sub-fields"),
    ('{ "labels." = "x" }', "empty segment"),
    ('{ model = { "$regex" = "([" } }', "when.model: $regex: invalid pattern"),
    ('{ model = { "$regex" = 5 } }', "when.model: $regex takes a pattern string"),
    ('{ status = { "$in" = "failed" } }', "when.status: $in takes a list"),
    ('{ status = { "$nin" = "failed" } }', "when.status: $nin takes a list"),
    ('{ error = { "$exists" = "no" } }', "when.error: $exists takes true or false"),
    ('{ progress = { "$gt" = true } }', "when.progress: $gt takes a number or a string"),
    ('{ progress = { "$lte" = [1] } }', "when.progress: $lte takes a number or a string"),
    ('{ created_at = { "$gt" = 2025-01-01T00:00:00 } }', "$gt: a date-time needs an offset"),
    ('{ created_at = { "$gt" = 2025-01-01 } }', "$gt: use a date-time with an offset"),
    ('{ "$or" = [] }', "when: $or takes a non-empty list"),
    ('{ "$and" = { status = "x" } }', "when: $and takes a non-empty list"),
    ('{ "$or" = [{ status = "x" }, "y"] }', "when.$or[1]: a filter is a table"),
    ('{ "$or" = [{ stat = "x" }] }', "when.$or[0].stat: unknown event field"),
    ('{ "$not" = "x" }', "when.$not: a filter is a table"),
    ('{ "$eq" = "x" }', "when: $eq needs a field"),
    ('{ "$where" = "x" }', "when: unknown operator $where"),
    ("{ labels = {} }", "when.labels: empty table"),
]


@pytest.mark.parametrize(("snippet", "message"), INVALID, ids=[c[0] for c in INVALID])
def test_invalid_filters_are_refused_at_load(snippet: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        compile_filter(when(snippet))
    assert message in caught.value.message


def test_a_filter_must_be_a_table() -> None:
    with pytest.raises(ConfigError, match="when: a filter is a table of fields, got str"):
        compile_filter("status")  # type: ignore[arg-type]


def test_where_prefixes_messages() -> None:
    with pytest.raises(ConfigError, match=r"^rules\[0\]\.when\.x: unknown event field"):
        compile_filter({"x": 1}, where="rules[0].when")


def test_every_event_field_is_filterable() -> None:
    for field in Event.__struct_fields__:
        assert isinstance(compile_filter({field: {"$exists": True}}), Filter)


@pytest.mark.parametrize(
    "doc",
    [
        {},
        {"labels": None, "credits": "odd", "progress": [1, "x", None]},
        {"labels": ["team"], "error": {"code": 7}, "received_at": 3},
    ],
)
def test_odd_documents_never_raise(doc: dict[str, Any]) -> None:
    compiled = compile_filter(
        when(
            '{ "labels.team" = "ops", "$or" = [{ "credits.reserved" = { "$gt" = 1 } },'
            ' { progress = { "$lt" = 5, "$regex" = "x" } }, { "error.code" = { "$in" = ["7"] } },'
            ' { received_at = { "$gte" = "2025" } }] }'
        )
    )
    assert compiled.matches(doc) is False


def test_describe_shows_the_filter_as_written() -> None:
    compiled = compile_filter(when('{ "labels.team" = "ops" }'))
    assert compiled.describe() == '{"labels.team": "ops"}'
    assert "labels.team" in repr(compiled)
