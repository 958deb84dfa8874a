"""The provider registry: each provider declares every fact in its module, and the rest of vidhook
reads those facts off the registry instead of naming providers.

A new provider that forgets a fact (a simulated callback, the fake API's shapes, an example of
its required options) fails here, not in a user's hands.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path
from typing import Any, get_args

import httpx
import msgspec
import pytest

from vidhook.receiver.config import ProviderName, SourceConfig, parse_settings
from vidhook.receiver.defaults import DEFAULT_PROVIDERS
from vidhook.receiver.errors import ConfigError
from vidhook.receiver.fake_provider import FakeProvider
from vidhook.receiver.fake_provider.app import FAKE_APIS
from vidhook.receiver.providers import PROVIDER_NAMES, PROVIDERS
from vidhook.receiver.providers.base import Provider
from vidhook.receiver.providers.samples import FakeTask
from vidhook.receiver.providers.source_config import SourceConfigBase
from vidhook.receiver.simulate import CALLBACK_PROVIDERS, callback_body

ROOT = Path(__file__).resolve().parents[1]
VALID = "vibegen, evolink, ark, videoapi, seedanceapi, aioagi, generic"

# The options a source of each provider with required options needs; every other provider's
# source decodes from `{"provider": name}` alone. A provider with a required option that is
# missing here fails `test_every_provider_with_required_options_has_an_example`.
EXAMPLE_OPTIONS: dict[str, dict[str, Any]] = {
    "generic": {
        "mapping": {
            "task_id": "data.id",
            "status": "data.state",
            "video_urls": "data.outputs",
            "error": "data.error",
        },
        "statuses": {"done": "completed", "error": "failed", "running": "processing"},
    },
}

NOW = 1_700_000_000.0


def example_source(name: str) -> Any:
    return msgspec.convert({"provider": name, **EXAMPLE_OPTIONS.get(name, {})}, SourceConfig)


def refused(toml: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_settings(toml, env={})
    return caught.value.message


# --- the tagged union: a source's `provider` picks the Struct that decodes the rest ----------


def test_each_source_decodes_into_its_providers_struct() -> None:
    for name, provider in PROVIDERS.items():
        config = example_source(name)
        assert type(config) is provider.config
        assert config.provider == name
        assert msgspec.to_builtins(config)["provider"] == name


@pytest.mark.parametrize(
    ("toml", "says"),
    [
        (
            '[sources.a]\nprovider = "nope"\n',
            f"sources.a.provider: unknown provider 'nope'; use one of {VALID}"
            " (at line 2, column 1)",
        ),
        (
            '[sources.a]\ntokens = ["t"]\n',
            f"sources.a.provider: missing; every source names its provider, one of {VALID}"
            " (at line 1, column 1)",
        ),
        (
            "[sources.a]\nprovider = 7\n",
            f"sources.a.provider: unknown provider 7; use one of {VALID} (at line 2, column 1)",
        ),
    ],
)
def test_a_wrong_provider_lists_the_valid_ones(toml: str, says: str) -> None:
    assert refused(toml) == f"<config>: {says}"


def test_an_option_of_another_provider_is_refused_naming_the_key() -> None:
    message = refused(
        '[sources.a]\nprovider = "vibegen"\nmapping = { task_id = "id", status = "s" }\n'
    )
    assert message == (
        "<config>: unknown key `sources.a.mapping`: provider vibegen has no such option;"
        " `mapping` is an option of generic sources (at line 3, column 1)"
    )
    message = refused('[sources.a]\nprovider = "ark"\nstatuses = { done = "completed" }\n')
    assert "unknown key `sources.a.statuses`: provider ark has no such option" in message


def test_a_missing_required_option_is_named() -> None:
    assert refused('[sources.p]\nprovider = "generic"\n') == (
        "<config>: sources.p.mapping: missing; a source of provider generic needs it"
        " (at line 1, column 1)"
    )


def test_a_generic_status_table_must_name_vidhooks_statuses() -> None:
    message = refused(
        '[sources.p]\nprovider = "generic"\nmapping = { task_id = "id", status = "s" }\n'
        'statuses = { ok = "done" }\n'
    )
    assert "sources.p" in message and "unknown target status {'ok': 'done'}" in message
    assert "completed" in message


def test_the_unions_choices_are_the_registry() -> None:
    assert tuple(PROVIDERS) == PROVIDER_NAMES
    assert get_args(ProviderName) == PROVIDER_NAMES
    assert get_args(SourceConfig) == tuple(p.config for p in PROVIDERS.values())


# --- every provider declares every fact --------------------------------------------------------


def test_every_provider_with_required_options_has_an_example() -> None:
    needing = {
        name
        for name, provider in PROVIDERS.items()
        if any(field.required for field in msgspec.structs.fields(provider.config))
    }
    assert needing == set(EXAMPLE_OPTIONS)
    assert set(DEFAULT_PROVIDERS) == set(PROVIDERS) - needing


@pytest.mark.parametrize("name", PROVIDER_NAMES)
def test_provider_declares_its_config_and_a_way_to_hear_of_tasks(name: str) -> None:
    provider = PROVIDERS[name]
    assert isinstance(provider, Provider)
    assert provider.name == name
    assert issubclass(provider.config, SourceConfigBase)
    assert provider.config.__struct_config__.tag == name
    assert provider.config.__doc__, f"{name}'s config Struct says what it is"
    # A provider that neither calls back nor can be asked leaves vidhook deaf to its tasks.
    assert provider.callbacks is not None or provider.task_api is not None
    if provider.task_api is not None:
        assert provider.needs_base_url == (provider.task_api.default_base_url is None)


@pytest.mark.parametrize("name", [n for n, p in PROVIDERS.items() if p.calls_back])
@pytest.mark.parametrize("outcome", ["completed", "failed"])
def test_simulated_callback_reads_back_as_its_outcome(name: str, outcome: Any) -> None:
    source = example_source(name)
    callbacks = PROVIDERS[name].callbacks
    assert callbacks is not None
    body = callback_body(outcome, source, NOW)
    report = callbacks.read(body, source)
    assert report.status == outcome
    assert bool(report.video_urls) == (outcome == "completed")
    if outcome == "failed":
        assert report.error is not None
    again = callbacks.read(callback_body(outcome, source, NOW), source)
    assert again.task_id != report.task_id, "each simulation is a new task"


@pytest.mark.parametrize("name", [n for n, p in PROVIDERS.items() if p.task_api is not None])
def test_fake_api_speaks_what_the_provider_module_reads(name: str) -> None:
    provider = PROVIDERS[name]
    api = provider.task_api
    assert api is not None
    fake = api.fake
    assert fake.create_path == api.submit_path
    assert (fake.callback is not None) == provider.calls_back
    task = FakeTask(name, f"{name}-t1", "model-1", "completed", 0.0)
    assert api.read_created(msgspec.json.encode(fake.created(task))).task_id == task.id
    source = example_source(name)
    for status in ("pending", "processing", "completed", "failed"):
        word = fake.words[status]
        report = api.read_query(msgspec.json.encode(fake.query(task, word)), source)
        assert (report.task_id, report.status) == (task.id, status)
        if fake.callback is not None and provider.callbacks is not None:
            called = provider.callbacks.read(msgspec.json.encode(fake.callback(task, word)), source)
            assert (called.task_id, called.status) == (task.id, status)


@pytest.mark.parametrize("name", [n for n, p in PROVIDERS.items() if p.task_api is not None])
async def test_the_fake_answers_the_requests_the_provider_module_builds(name: str) -> None:
    api = PROVIDERS[name].task_api
    assert api is not None
    fake = FakeProvider(delay=0.0)
    base = f"http://fake/{name}"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=fake)) as client:
        created = await client.post(base + api.submit_path, json={"model": "m"})
        task_id = api.read_created(created.content).task_id
        request = api.query_request(base, task_id)
        answer = await client.request(request.method, request.url, json=request.json)
    assert answer.status_code == 200, answer.text
    assert api.read_query(answer.content, example_source(name)).task_id == task_id
    assert [seen.kind for seen in fake.requests] == ["create", "query"]


def test_what_is_read_off_the_registry() -> None:
    assert tuple(n for n, p in PROVIDERS.items() if p.calls_back) == CALLBACK_PROVIDERS
    assert set(FAKE_APIS) == {n for n, p in PROVIDERS.items() if p.task_api is not None}


# --- nothing outside the provider modules names a provider -------------------------------------


def _modules_outside_providers() -> list[Path]:
    found = [*(ROOT / "receiver").rglob("*.py"), *(ROOT / "routes").rglob("*.py")]
    return [path for path in found if "providers" not in path.relative_to(ROOT).parts]


def test_no_module_outside_the_providers_names_a_provider() -> None:
    names = set(PROVIDERS)
    offences = []
    for path in _modules_outside_providers():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and node.value in names:
                offences.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.value!r}")
            if isinstance(node, ast.ImportFrom) and node.module:
                module = node.module.rsplit(".", 1)[-1]
                imported = {alias.name for alias in node.names}
                if module in names or (node.module.endswith(".providers") and imported & names):
                    offences.append(f"{path.relative_to(ROOT)}:{node.lineno} imports a provider")
    assert offences == []


def test_provider_modules_depend_only_on_their_base_and_the_event_model() -> None:
    allowed = ("vidhook.receiver.providers", "vidhook.receiver.event", "vidhook.receiver.errors")
    for path in (ROOT / "receiver" / "providers").glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("vidhook"):
                assert (node.module or "").startswith(allowed), f"{path.name}: {node.module}"


def test_the_config_does_not_import_the_web_stack() -> None:
    code = (
        "import sys, vidhook.receiver.config\n"
        "heavy = {'litestar', 'httpx', 'uvicorn', 'aiosqlite', 'asyncpg', 'jinja2'}\n"
        "print(sorted(heavy & {m.split('.')[0] for m in sys.modules}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert done.stdout.strip() == "[]"
