"""Provider dialects: every fixture read into the expected report, and no body crashes a reader."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vidhook.receiver.config import PROVIDER_NAMES, SourceConfig
from vidhook.receiver.errors import (
    BadRequest,
    ConfigError,
    NotFound,
    UnreadablePayload,
    UpstreamError,
)
from vidhook.receiver.event import STATUS_RANK, Credits, ErrorInfo, TaskReport, event_type
from vidhook.receiver.providers import (
    PROVIDERS,
    aioagi,
    ark,
    evolink,
    generic,
    get_provider,
    reading,
    seedanceapi,
    vibegen,
    videoapi,
)
from vidhook.receiver.providers.base import CreatedTask, Provider, ProviderRequest, TaskApi
from vidhook.receiver.providers.generic import GenericSource, MappingConfig

FIXTURES = Path(__file__).parent / "fixtures" / "providers"

GENERIC_SOURCE = GenericSource(
    mapping=MappingConfig(
        task_id="data.id",
        status="data.state",
        video_urls="data.outputs",
        error="data.error",
        model="data.model",
        progress="data.progress",
        created_at="data.created",
        finished_at="data.finished",
    ),
    statuses={"done": "completed", "error": "failed", "running": "processing"},
)


def source_for(provider: str) -> SourceConfig:
    if provider == "generic":
        return GENERIC_SOURCE
    return msgspec.convert({"provider": provider}, SourceConfig)


def fixture(provider: str, name: str) -> bytes:
    return (FIXTURES / provider / name).read_bytes()


def report(
    task_id: str,
    status: str,
    provider_status: str,
    *,
    type: str,
    model: str | None = None,
    video_urls: list[str] | None = None,
    error: ErrorInfo | None = None,
    progress: int | None = None,
    credits: Credits | None = None,
    created_at: str | None = None,
    finished_at: str | None = None,
    poll_interval: float | None = None,
    duration_s: float | None = None,
    resolution: str | None = None,
    audio: bool | None = None,
) -> dict[str, Any]:
    """The expected fields of a TaskReport, with the event type it leads to."""
    return {
        "task_id": task_id,
        "status": status,
        "provider_status": provider_status,
        "type": type,
        "model": model,
        "video_urls": video_urls or [],
        "error": error,
        "progress": progress,
        "credits": credits,
        "created_at": created_at,
        "finished_at": finished_at,
        "poll_interval": poll_interval,
        "duration_s": duration_s,
        "resolution": resolution,
        "audio": audio,
    }


def fields_of(task: TaskReport) -> dict[str, Any]:
    fields = {name: getattr(task, name) for name in TaskReport.__struct_fields__}
    return {**fields, "type": event_type(task.status)}


VIBEGEN_ID = "550e8400-e29b-41d4-a716-446655440000"
EVOLINK_MODEL = "doubao-seedance-1.0-pro-fast"
ARK_ID = "cgt-20250331175019-68d9t"
ARK_MODEL = "doubao-seedance-1-0-pro-250528"
ARK_URL = (
    "https://ark-content-generation-cn-beijing.tos-cn-beijing.volces.com"
    "/doubao-seedance-1-0-pro/example.mp4?X-Tos-Expires=86400"
)
VIDEOAPI_ID = "vidgen_1783003830450_081f0558"
VIDEOAPI_MODEL = "video-2.0-mini-reference-to-video"
SEEDANCE_ID = "abc123-def456-789"
AIOAGI_ID = "vid_01JQ8ZK3M4N5P6Q7R8S9T0UVWX"
AIOAGI_MODEL = "doubao-seedance-2-0-260128"
AIOAGI_URL = "https://cdn.aiearth.dev/videos/01JQ8ZK3.mp4"

# (provider, fixture file, reader, expected TaskReport fields)
TASK_CASES: list[tuple[str, str, str, dict[str, Any]]] = [
    ("vibegen", "callback_completed.json", "read_callback", report(
        VIBEGEN_ID, "completed", "completed", type="task.completed",
        video_urls=["https://cdn.example.com/videos/abc123.mp4"],
        created_at="2025-03-10T10:00:00.000Z", finished_at="2025-03-10T10:02:30.000Z",
    )),
    ("vibegen", "callback_failed.json", "read_callback", report(
        VIBEGEN_ID, "failed", "failed", type="task.failed",
        error=ErrorInfo(message="Content policy violation"),
        created_at="2025-03-10T10:00:00.000Z", finished_at="2025-03-10T10:00:15.000Z",
    )),
    ("vibegen", "query_completed.json", "read_query", report(
        VIBEGEN_ID, "completed", "completed", type="task.completed", model="seedance 2.0",
        video_urls=["https://cdn.example.com/videos/abc123.mp4"],
        created_at="2025-03-10T10:00:00.000Z", finished_at="2025-03-10T10:02:30.000Z",
    )),
    ("vibegen", "query_failed.json", "read_query", report(
        VIBEGEN_ID, "failed", "failed", type="task.failed", model="seedance 2.0",
        error=ErrorInfo(message="Content policy violation"),
        created_at="2025-03-10T10:00:00.000Z",
    )),
    ("vibegen", "query_processing.json", "read_query", report(
        VIBEGEN_ID, "processing", "processing", type="task.progress", model="seedance 2.0",
        created_at="2025-03-10T10:00:00.000Z",
    )),
    ("evolink", "callback_completed.json", "read_callback", report(
        "task-unified-1761313744-vux2jw0k", "completed", "completed", type="task.completed",
        model=EVOLINK_MODEL, video_urls=["https://cdn.example.com/videos/vux2jw0k.mp4"],
        progress=100, credits=Credits(reserved=8), created_at="2025-10-24T13:49:04.000Z",
        duration_s=8.0,
    )),
    ("evolink", "callback_failed.json", "read_callback", report(
        "task-unified-1772618027-cmeisy8h", "failed", "failed", type="task.failed",
        model=EVOLINK_MODEL, progress=0, created_at="2026-03-04T09:53:47.000Z",
        error=ErrorInfo(
            code="content_policy_violation",
            message="Content policy violation.\nYour request was blocked by safety filters.",
        ),
    )),
    ("evolink", "callback_cancelled.json", "read_callback", report(
        "task-unified-1772618027-k2p9xq4z", "cancelled", "cancelled", type="task.failed",
        model=EVOLINK_MODEL, progress=20, created_at="2026-03-04T09:53:47.000Z",
    )),
    ("evolink", "callback_failed_request_cancelled.json", "read_callback", report(
        "task-unified-1772618027-k2p9xq4z", "cancelled", "failed", type="task.failed",
        model=EVOLINK_MODEL, progress=20, created_at="2026-03-04T09:53:47.000Z",
        error=ErrorInfo(code="request_cancelled", message="The request was cancelled."),
    )),
    ("evolink", "query_processing.json", "read_query", report(
        "task-unified-1774857405-abc123", "processing", "processing", type="task.progress",
        model=EVOLINK_MODEL, progress=65, created_at="2026-03-30T07:56:45.000Z",
        duration_s=5.0,
    )),
    ("ark", "callback_queued.json", "read_callback", report(
        ARK_ID, "pending", "queued", type="task.progress", model=ARK_MODEL,
        created_at="2025-03-31T09:50:19.000Z",
    )),
    ("ark", "callback_running.json", "read_callback", report(
        ARK_ID, "processing", "running", type="task.progress", model=ARK_MODEL,
        created_at="2025-03-31T09:50:19.000Z",
    )),
    ("ark", "callback_succeeded.json", "read_callback", report(
        ARK_ID, "completed", "succeeded", type="task.completed", model=ARK_MODEL,
        video_urls=[ARK_URL],
        created_at="2025-03-31T09:50:19.000Z", finished_at="2025-03-31T09:51:13.000Z",
        duration_s=5.0, resolution="720p",
    )),
    ("ark", "callback_failed.json", "read_callback", report(
        "cgt-20250331175019-x7k2m", "failed", "failed", type="task.failed", model=ARK_MODEL,
        error=ErrorInfo(
            code="OutputVideoSensitiveContentDetected",
            message="The request failed because the output video may contain sensitive "
            "information.",
        ),
        created_at="2025-03-31T09:50:19.000Z", finished_at="2025-03-31T09:50:50.000Z",
    )),
    ("ark", "callback_expired.json", "read_callback", report(
        "cgt-20250331175019-q4w8e", "expired", "expired", type="task.failed", model=ARK_MODEL,
        created_at="2025-03-31T09:50:19.000Z", finished_at="2025-04-02T09:50:19.000Z",
    )),
    ("videoapi", "query_completed.json", "read_query", report(
        VIDEOAPI_ID, "completed", "completed", type="task.completed", model=VIDEOAPI_MODEL,
        video_urls=["https://cdn.example.com/result.mp4"],
        credits=Credits(reserved=180, refunded=False),
    )),
    ("videoapi", "query_completed_many.json", "read_query", report(
        "vidgen_1783003830450_5a6b7c8d", "completed", "completed", type="task.completed",
        model=VIDEOAPI_MODEL,
        video_urls=[
            "https://cdn.example.com/a.mp4",
            "https://cdn.example.com/c.mp4?sig=AbC%2B1",
            "https://cdn.example.com/b.mp4",
        ],
        credits=Credits(reserved=180, refunded=False), poll_interval=15,
    )),
    ("videoapi", "query_failed.json", "read_query", report(
        VIDEOAPI_ID, "failed", "failed", type="task.failed", model=VIDEOAPI_MODEL,
        error=ErrorInfo(message="upstream generation failed"),
        credits=Credits(reserved=180, refunded=True),
    )),
    ("videoapi", "query_failed_string_error.json", "read_query", report(
        "vidgen_1783003830450_9c1d2e3f", "failed", "failed", type="task.failed",
        model="video-2.0-mini-text-to-video",
        error=ErrorInfo(message="reference image could not be downloaded"),
        credits=Credits(reserved=90, refunded=True),
    )),
    ("videoapi", "query_processing.json", "read_query", report(
        VIDEOAPI_ID, "processing", "processing", type="task.progress", model=VIDEOAPI_MODEL,
        credits=Credits(reserved=180, refunded=False),
    )),
    ("seedanceapi", "query_success.json", "read_query", report(
        SEEDANCE_ID, "completed", "success", type="task.completed", model="seedance-pro-5s",
        video_urls=["https://cdn.seedanceapi.dev/videos/abc123.mp4"],
    )),
    ("seedanceapi", "query_failed.json", "read_query", report(
        SEEDANCE_ID, "failed", "failed", type="task.failed", model="seedance-pro-5s",
        error=ErrorInfo(message="视频生成失败"),
    )),
    ("aioagi", "query_running.json", "read_query", report(
        AIOAGI_ID, "processing", "running", type="task.progress", model=AIOAGI_MODEL,
        progress=42, created_at="2026-03-28T09:15:02.000Z",
    )),
    ("aioagi", "query_succeeded.json", "read_query", report(
        AIOAGI_ID, "completed", "succeeded", type="task.completed", model=AIOAGI_MODEL,
        video_urls=[AIOAGI_URL, "https://cdn.aiearth.dev/videos/01JQ8ZK3-alt.mp4"],
        progress=100,
        created_at="2026-03-28T09:15:02.000Z", finished_at="2026-03-28T09:16:40.000Z",
    )),
    ("aioagi", "query_failed.json", "read_query", report(
        AIOAGI_ID, "failed", "failed", type="task.failed", model=AIOAGI_MODEL, progress=0,
        error=ErrorInfo(
            code="content_filtered", message="The prompt was rejected by the content filter."
        ),
        created_at="2026-03-28T09:15:02.000Z", finished_at="2026-03-28T09:15:09.000Z",
    )),
    ("aioagi", "query_unknown_status.json", "read_query", report(
        AIOAGI_ID, "processing", "rendering", type="task.progress",
    )),
    ("generic", "partner_done.json", "read_callback", report(
        "job_8842", "completed", "done", type="task.completed", model="partner-video-v3",
        video_urls=["https://media.partner.example/job_8842/final.mp4"], progress=100,
        created_at="2026-03-28T01:00:00.000Z", finished_at="2026-03-28T01:06:40.000Z",
    )),
    ("generic", "partner_error.json", "read_callback", report(
        "8843", "failed", "error", type="task.failed",
        error=ErrorInfo(code="E_QUOTA", message="Monthly quota exhausted"),
        created_at="2026-03-28T00:50:00.000Z",
    )),
    ("generic", "partner_running.json", "read_callback", report(
        "job_8844", "processing", "running", type="task.progress", progress=37,
    )),
    ("generic", "partner_expired.json", "read_callback", report(
        "job_8845", "expired", "expired", type="task.failed",
        error=ErrorInfo(message="Result was not collected in time"),
    )),
]  # fmt: skip

CREATED_CASES: list[tuple[str, str, CreatedTask]] = [
    ("vibegen", "create_response.json", CreatedTask(VIBEGEN_ID, "pending")),
    ("evolink", "create_response.json", CreatedTask("task-unified-1761313744-vux2jw0k", "pending")),
    ("ark", "create_response.json", CreatedTask(ARK_ID)),
    ("videoapi", "create_response.json", CreatedTask(VIDEOAPI_ID, "pending", 30)),
    ("seedanceapi", "create_response.json", CreatedTask(SEEDANCE_ID, "pending")),
    ("aioagi", "create_response.json", CreatedTask(AIOAGI_ID, "queued")),
]

ERROR_CASES: list[tuple[str, str, str, str]] = [
    ("vibegen", "error_not_found.json", "read_query", "Task not found (code TASK_NOT_FOUND)"),
    ("seedanceapi", "error_response.json", "read_query", "Insufficient credits (code 400)"),
    ("seedanceapi", "error_response.json", "read_created", "Insufficient credits (code 400)"),
]

# Request bodies, not answers: read by submit, not by these readers.
NOT_ANSWERS = {("aioagi", "create_request.json")}


def task_api(provider: str) -> TaskApi[Any]:
    api = PROVIDERS[provider].task_api
    assert api is not None, f"{provider} has no task API"
    return api


def read(provider: str, reader: str, body: bytes) -> Any:
    if reader == "read_created":
        return task_api(provider).read_created(body)
    if reader == "read_query":
        return task_api(provider).read_query(body, source_for(provider))
    callbacks = PROVIDERS[provider].callbacks
    assert callbacks is not None, f"{provider} does not call back"
    return callbacks.read(body, source_for(provider))


@pytest.mark.parametrize(("provider", "name", "reader", "expected"), TASK_CASES)
def test_fixture_reads_as_expected(
    provider: str, name: str, reader: str, expected: dict[str, Any]
) -> None:
    assert fields_of(read(provider, reader, fixture(provider, name))) == expected


@pytest.mark.parametrize("provider", ["evolink", "ark"])
def test_callback_and_query_read_alike(provider: str) -> None:
    callbacks = PROVIDERS[provider].callbacks
    assert callbacks is not None
    assert callbacks.read is task_api(provider).read_query


@pytest.mark.parametrize(("provider", "name", "expected"), CREATED_CASES)
def test_create_answer_reads_as_expected(provider: str, name: str, expected: CreatedTask) -> None:
    assert task_api(provider).read_created(fixture(provider, name)) == expected


@pytest.mark.parametrize(("provider", "name", "reader", "message"), ERROR_CASES)
def test_provider_error_answer_is_upstream_error(
    provider: str, name: str, reader: str, message: str
) -> None:
    with pytest.raises(UpstreamError) as caught:
        read(provider, reader, fixture(provider, name))
    assert caught.value.code == "provider_error"
    assert caught.value.status_code == 502
    assert provider in caught.value.message
    assert message in caught.value.message


def test_every_fixture_has_an_expectation() -> None:
    covered = {(p, n) for p, n, _, _ in TASK_CASES}
    covered |= {(p, n) for p, n, _ in CREATED_CASES}
    covered |= {(p, n) for p, n, _, _ in ERROR_CASES}
    on_disk = {(path.parent.name, path.name) for path in FIXTURES.glob("*/*.json")}
    assert on_disk - NOT_ANSWERS == covered


# --- registry and API shape -------------------------------------------------------------------

BASE = {
    "vibegen": "https://vibegen.art/api/v1",
    "evolink": "https://api.evolink.ai",
    "videoapi": "",
    "seedanceapi": "https://api.seedanceapi.dev",
    "aioagi": "https://api.aiearth.dev/v1",
    "ark": "https://ark.cn-beijing.volces.com",
    "generic": "",
}


def test_registry_names_every_configurable_provider() -> None:
    assert set(PROVIDERS) == set(PROVIDER_NAMES)
    for name, dialect in PROVIDERS.items():
        assert dialect.name == name
        assert get_provider(name) is dialect
        assert dialect.default_base_url == BASE[name]


def test_unknown_provider_is_not_found() -> None:
    with pytest.raises(NotFound, match="nosuch"):
        get_provider("nosuch")


@pytest.mark.parametrize(
    "module", [aioagi, ark, evolink, generic, seedanceapi, vibegen, videoapi, reading]
)
def test_public_surface_exists(module: ModuleType) -> None:
    for name in module.__all__:
        assert hasattr(module, name), name


def test_which_providers_call_back() -> None:
    calling = {name for name, dialect in PROVIDERS.items() if dialect.calls_back}
    assert calling == {"vibegen", "evolink", "ark", "generic"}
    https_only = {
        name
        for name, dialect in PROVIDERS.items()
        if dialect.callbacks is not None and dialect.callbacks.requires_https
    }
    assert https_only == {"evolink"}


@pytest.mark.parametrize(
    ("provider", "request_"),
    [
        ("vibegen", ProviderRequest("GET", "https://vibegen.art/api/v1/tasks/t%2F1%3Fx")),
        ("evolink", ProviderRequest("GET", "https://api.evolink.ai/v1/tasks/t%2F1%3Fx")),
        (
            "ark",
            ProviderRequest(
                "GET",
                "https://ark.cn-beijing.volces.com/api/v3/contents/generations/tasks/t%2F1%3Fx",
            ),
        ),
        ("aioagi", ProviderRequest("GET", "https://api.aiearth.dev/v1/videos/t%2F1%3Fx")),
        (
            "seedanceapi",
            ProviderRequest(
                "POST", "https://api.seedanceapi.dev/v1/video/query", {"task_id": "t/1?x"}
            ),
        ),
    ],
)
def test_query_request(provider: str, request_: ProviderRequest) -> None:
    dialect = PROVIDERS[provider]
    assert task_api(provider).query_request(dialect.default_base_url, "t/1?x") == request_


def test_videoapi_query_needs_a_configured_base_url() -> None:
    with pytest.raises(ConfigError, match="base_url"):
        videoapi.query_request("", "t1")
    request_ = videoapi.query_request("https://videoapi.example.com/", "t1")
    assert request_ == ProviderRequest(
        "GET", "https://videoapi.example.com/v1/video/generations/t1"
    )


def test_generic_has_no_task_api() -> None:
    assert PROVIDERS["generic"].task_api is None
    assert not PROVIDERS["generic"].needs_base_url


@pytest.mark.parametrize("provider", ["vibegen", "evolink", "ark", "aioagi", "seedanceapi"])
@pytest.mark.parametrize("task_id", ["", "  "])
def test_query_request_refuses_empty_task_id(provider: str, task_id: str) -> None:
    dialect = PROVIDERS[provider]
    with pytest.raises(BadRequest):
        task_api(provider).query_request(dialect.default_base_url, task_id)


@pytest.mark.parametrize(
    ("provider", "url"),
    [
        ("vibegen", "https://vibegen.art/api/v1/generations"),
        ("evolink", "https://api.evolink.ai/v1/videos/generations"),
        ("ark", "https://ark.cn-beijing.volces.com/api/v3/contents/generations/tasks"),
        ("videoapi", "https://videoapi.example.com/v1/video/generations"),
        ("seedanceapi", "https://api.seedanceapi.dev/v1/video/generate"),
        ("aioagi", "https://api.aiearth.dev/v1/videos"),
    ],
)
def test_submit_url(provider: str, url: str) -> None:
    dialect = PROVIDERS[provider]
    base = dialect.default_base_url or "https://videoapi.example.com"
    assert base + task_api(provider).submit_path == url


# --- status words and task ids ----------------------------------------------------------------

# A fixture per provider whose status word the tests below replace.
STATUS_FIXTURES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "vibegen": ("query_processing.json", "read_query", ("data", "status")),
    "evolink": ("query_processing.json", "read_query", ("status",)),
    "ark": ("callback_running.json", "read_callback", ("status",)),
    "videoapi": ("query_processing.json", "read_query", ("status",)),
    "seedanceapi": ("query_success.json", "read_query", ("data", "status")),
    "aioagi": ("query_running.json", "read_query", ("data", "status")),
    "generic": ("partner_running.json", "read_callback", ("data", "state")),
}


def with_value(provider: str, key: str, value: Any) -> bytes:
    """The provider's status fixture with one field (`status` or `task_id`) replaced."""
    name, _, status_path = STATUS_FIXTURES[provider]
    document = json.loads(fixture(provider, name))
    holder = document
    for part in status_path[:-1]:
        holder = holder[part]
    if key == "status":
        holder[status_path[-1]] = value
    else:
        id_key = next(k for k in ("task_id", "id") if k in holder)
        holder[id_key] = value
    return json.dumps(document).encode()


@pytest.mark.parametrize("provider", sorted(set(PROVIDERS) - {"aioagi"}))
def test_unknown_status_word_is_unreadable(provider: str) -> None:
    _, reader, _ = STATUS_FIXTURES[provider]
    with pytest.raises(UnreadablePayload) as caught:
        read(provider, reader, with_value(provider, "status", "teleported"))
    assert "'teleported'" in caught.value.message
    assert provider in caught.value.message


def test_generic_unknown_status_names_the_path() -> None:
    with pytest.raises(UnreadablePayload, match=r"'teleported' at `data\.state`"):
        read("generic", "read_callback", with_value("generic", "status", "teleported"))


@pytest.mark.parametrize("word", ["completed", "cancelled", "pending"])
def test_generic_passes_normalised_words_through(word: str) -> None:
    task = read("generic", "read_callback", with_value("generic", "status", word))
    assert (task.status, task.provider_status) == (word, word)


@pytest.mark.parametrize(
    ("word", "status"),
    [
        ("queued", "pending"),
        ("pending", "pending"),
        ("processing", "processing"),
        ("SUCCESS", "completed"),
        ("completed", "completed"),
        ("cancelled", "cancelled"),
        ("error", "failed"),
        ("warming-up", "processing"),
    ],
)
def test_aioagi_reads_status_words_tolerantly(word: str, status: str) -> None:
    task = read("aioagi", "read_query", with_value("aioagi", "status", word))
    assert (task.status, task.provider_status) == (status, word)


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
@pytest.mark.parametrize("task_id", ["", "   "])
def test_empty_task_id_is_unreadable(provider: str, task_id: str) -> None:
    _, reader, _ = STATUS_FIXTURES[provider]
    with pytest.raises(UnreadablePayload, match="task id"):
        read(provider, reader, with_value(provider, "task_id", task_id))


def test_aioagi_without_status_is_unreadable() -> None:
    with pytest.raises(UnreadablePayload, match="status"):
        aioagi.read_query(b'{"id": "v1"}', source_for("aioagi"))


def test_generic_reads_list_indices_and_single_urls() -> None:
    source = GenericSource(
        mapping=MappingConfig(
            task_id="jobs.0.id", status="jobs.0.state", video_urls="jobs.0.files.1"
        ),
    )
    body = b'{"jobs": [{"id": "j1", "state": "completed", "files": ["a.jpg", "https://v/b.mp4"]}]}'
    task = generic.read_body(body, source)
    assert (task.task_id, task.status, task.video_urls) == ("j1", "completed", ["https://v/b.mp4"])


@pytest.mark.parametrize(
    ("body", "path"),
    [
        (b'{"data": {"id": "j", "state": "done", "outputs": [3]}}', "data.outputs"),
        (b'{"data": {"id": "j", "state": "done", "error": 7}}', "data.error"),
        (b'{"data": {"id": "j", "state": ["done"]}}', "data.state"),
        (b'{"data": {"id": {"x": 1}, "state": "done"}}', "data.id"),
    ],
)
def test_generic_names_the_path_of_a_misshapen_field(body: bytes, path: str) -> None:
    with pytest.raises(UnreadablePayload, match=rf"`{path}`"):
        generic.read_body(body, GENERIC_SOURCE)


def test_video_urls_only_when_completed() -> None:
    body = fixture("ark", "callback_succeeded.json").replace(b'"succeeded"', b'"running"')
    assert ark.read_task(body, source_for("ark")).video_urls == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-03-10T10:00:00Z", "2025-03-10T10:00:00.000Z"),
        (1743414619, "2025-03-31T09:50:19.000Z"),
        (1743414619000, "2025-03-31T09:50:19.000Z"),
        ("²", None),
        ("0001-01-01T00:00:00+01:00", None),
        (10**400, None),
        ({"at": 1}, None),
    ],
)
def test_read_time_never_costs_an_event(value: object, expected: str | None) -> None:
    assert reading.read_time(value) == expected


@pytest.mark.parametrize(("value", "expected"), [(None, None), (-5, 0), (42.9, 42), (250, 100)])
def test_progress_is_held_within_a_percentage(value: float | None, expected: int | None) -> None:
    assert reading.progress_percent(value) == expected


# --- no body makes a reader fail with anything but a 4xx-mapped error -------------------------

ALLOWED = (BadRequest, UnreadablePayload, UpstreamError)

Reader = Callable[[bytes], object]


def all_readers() -> list[tuple[str, Reader]]:
    readers: list[tuple[str, Reader]] = []
    for name, dialect in PROVIDERS.items():
        source = source_for(name)
        if dialect.task_api is not None:
            readers.append((f"{name}.read_created", dialect.task_api.read_created))
            readers.append((f"{name}.read_query", _bind(dialect.task_api.read_query, source)))
        if dialect.callbacks is not None:
            readers.append((f"{name}.read_callback", _bind(dialect.callbacks.read, source)))
    return readers


def _bind(reader: Callable[[bytes, Any], TaskReport], source: SourceConfig) -> Reader:
    return lambda body: reader(body, source)


READERS = all_readers()
READER_IDS = [name for name, _ in READERS]


def check_reader(reader: Reader, body: bytes) -> None:
    """Run a reader: it either refuses with an allowed error or returns a sound result."""
    try:
        result = reader(body)
    except ALLOWED:
        return
    if isinstance(result, CreatedTask):
        assert result.task_id.strip()
        assert result.poll_interval is None or result.poll_interval > 0
        return
    assert isinstance(result, TaskReport)
    assert result.status in STATUS_RANK
    assert result.task_id.strip()
    assert result.status == "completed" or result.video_urls == []
    assert result.progress is None or 0 <= result.progress <= 100
    msgspec.json.encode(result)


KEYS = st.sampled_from(
    [
        "id", "task_id", "status", "state", "data", "code", "message", "success", "error",
        "error_message", "video_url", "url", "videos", "generated", "results", "content",
        "progress", "usage", "credits_reserved", "credits_refunded", "metadata", "created",
        "created_at", "updated_at", "completed_at", "outputs", "model", "poll_interval_seconds",
    ]
)  # fmt: skip
WORDS = st.sampled_from(
    ["completed", "failed", "succeeded", "success", "running", "queued", "done", "error", "²"]
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | WORDS
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(KEYS | st.text(max_size=6), inner, max_size=5)
    ),
    max_leaves=24,
)
FIXTURE_BODIES = sorted(FIXTURES.glob("*/*.json"))

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize(("name", "reader"), READERS, ids=READER_IDS)
@FUZZ
@given(body=st.binary(max_size=200))
def test_random_bytes_never_crash(name: str, reader: Reader, body: bytes) -> None:
    check_reader(reader, body)


@pytest.mark.parametrize(("name", "reader"), READERS, ids=READER_IDS)
@FUZZ
@given(document=JSON_VALUES)
def test_random_json_never_crashes(name: str, reader: Reader, document: Any) -> None:
    check_reader(reader, json.dumps(document).encode())


def paths_in(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside a JSON document."""
    found = [prefix] if prefix else []
    items: list[tuple[Any, Any]] = []
    if isinstance(value, dict):
        items = list(value.items())
    elif isinstance(value, list):
        items = list(enumerate(value))
    for key, child in items:
        found += paths_in(child, (*prefix, key))
    return found


@pytest.mark.parametrize(("name", "reader"), READERS, ids=READER_IDS)
@FUZZ
@given(data=st.data())
def test_mutated_fixtures_never_crash(name: str, reader: Reader, data: st.DataObject) -> None:
    own = [path for path in FIXTURE_BODIES if path.parent.name == name.split(".")[0]]
    source = data.draw(st.sampled_from(own) | st.sampled_from(FIXTURE_BODIES))
    document = json.loads(source.read_bytes())
    for _ in range(data.draw(st.integers(1, 3))):
        paths = paths_in(document)
        if not paths:
            break
        path = data.draw(st.sampled_from(paths))
        holder = document
        for part in path[:-1]:
            holder = holder[part]
        if data.draw(st.booleans()) and isinstance(holder, dict):
            del holder[path[-1]]
        else:
            holder[path[-1]] = data.draw(JSON_VALUES)
    check_reader(reader, json.dumps(document).encode())


@pytest.mark.parametrize(("name", "reader"), READERS, ids=READER_IDS)
@FUZZ
@given(data=st.data())
def test_corrupted_fixture_bytes_never_crash(
    name: str, reader: Reader, data: st.DataObject
) -> None:
    body = bytearray(data.draw(st.sampled_from(FIXTURE_BODIES)).read_bytes())
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(body) - 1))
        body[at] = data.draw(st.sampled_from([0xFF, 0xC3, 0x80, 0x00, ord('"'), ord("{")]))
    check_reader(reader, bytes(body))


@pytest.mark.parametrize(("name", "reader"), READERS, ids=READER_IDS)
@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"data": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        b'{"status": "completed", "id": "\xff\xfe", "task_id": "\xc3"}',
        b"\xef\xbb\xbf{}",
        b"",
        b"null",
    ],
    ids=["deep-array", "deep-field", "invalid-utf8", "bom", "empty", "null"],
)
def test_hostile_bodies_are_refused(name: str, reader: Reader, body: bytes) -> None:
    with pytest.raises(ALLOWED):
        reader(body)


def test_every_provider_is_fuzzed() -> None:
    assert {name.split(".")[0] for name in READER_IDS} == set(PROVIDERS)
    assert all(isinstance(dialect, Provider) for dialect in PROVIDERS.values())
