"""Usage and pricing: price lookups worked by hand, usage facts read from requests and
payloads, `[pricing]` in the config, `GET /admin/usage` and `vidhook usage`."""

from __future__ import annotations

import asyncio
import csv
import io
import json

import msgspec
import pytest

from tests.conftest import fixture_json
from tests.stored_events import CONFIG, RAW, READER, bearer, make_event
from vidhook.receiver.cli import main
from vidhook.receiver.config import parse_settings
from vidhook.receiver.errors import ConfigError
from vidhook.receiver.event import Credits
from vidhook.receiver.pricing import PricingConfig, price_of
from vidhook.receiver.providers.usage_facts import UsageFacts, read_resolution, request_facts
from vidhook.receiver.store import open_store

PRICING_TOML = """
[pricing]
unit = "credits"
currency = "USD"
unit_price = 0.01

[[pricing.tables]]
provider = "vibegen"
prices = [
    { resolution = "480p", seconds = 5, audio = 20, silent = 15 },
    { resolution = "480p", seconds = 10, audio = 40, silent = 30 },
    { resolution = "720p", seconds = 5, audio = 43, silent = 30 },
]

[[pricing.tables]]
provider = "vibegen"
model = "seedance-lite"
prices = [{ resolution = "720p", seconds = 5, silent = 10 }]
"""


def pricing(extra: str = "") -> PricingConfig:
    return parse_settings(PRICING_TOML + extra).pricing


def price(config: PricingConfig, **task: object) -> float | None:
    facts = {"provider": "vibegen", "model": "seedance-pro", "audio": None} | task
    return price_of(config, **facts)  # type: ignore[arg-type]


def test_a_listed_length_takes_its_price_with_or_without_audio():
    config = pricing()
    assert price(config, resolution="480p", duration_s=5, audio=True) == 20
    assert price(config, resolution="480p", duration_s=5, audio=False) == 15
    assert price(config, resolution="720P", duration_s=5.0, audio=False) == 30
    # unknown audio is priced as with audio: the cautious figure
    assert price(config, resolution="720p", duration_s=5) == 43


def test_an_unlisted_length_is_priced_per_second_from_the_nearest_entry():
    config = pricing()
    assert price(config, resolution="720p", duration_s=8, audio=True) == pytest.approx(43 * 8 / 5)
    assert price(config, resolution="480p", duration_s=12, audio=False) == pytest.approx(36)
    assert price(config, resolution="480p", duration_s=7, audio=True) == pytest.approx(28)
    exact = pricing().__class__(**{**msgspec.structs.asdict(config), "durations": "exact"})
    assert price(exact, resolution="720p", duration_s=8) is None


def test_a_model_table_wins_over_the_providers_and_unknowns_are_unpriced():
    config = pricing()
    assert price(config, model="seedance-lite", resolution="720p", duration_s=5) == 10
    assert price(config, provider="ark", resolution="720p", duration_s=5) is None
    assert price(config, resolution="1080p", duration_s=5) is None
    assert price(config, resolution=None, duration_s=5) is None
    assert price(config, resolution="720p", duration_s=None) is None


TABLE = '[[pricing.tables]]\nprovider = "x"\nprices = [{ %s }]'


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[pricing]\ncolour = 1", "colour"),
        (TABLE % 'resolution = "wide", seconds = 5, audio = 1', "wide"),
        (TABLE % 'resolution = "720p", seconds = 5', "audio"),
        (TABLE % 'resolution = "720p", seconds = 0, audio = 1', "seconds"),
    ],
)
def test_the_pricing_section_refuses_what_it_cannot_use(toml, message):
    with pytest.raises(ConfigError, match=message):
        parse_settings(toml)


def test_usage_facts_are_read_from_any_create_body_dialect():
    aioagi = request_facts(fixture_json("aioagi", "create_request"))
    assert aioagi == UsageFacts(
        model="doubao-seedance-2-0-260128", duration_s=5, resolution="720p", audio=True
    )
    ark = {"model": "m", "content": [{"type": "text", "text": "a cat --resolution 1080p --dur 10"}]}
    assert request_facts(ark) == UsageFacts(model="m", duration_s=10, resolution="1080p")
    odd = {"duration": {"s": 5}, "resolution": ["720p"], "with_audio": "maybe", "model": 7}
    assert request_facts(odd) == UsageFacts()
    assert [read_resolution(v) for v in ("1280x720", 1080, "4k", True)] == [
        "720p",
        "1080p",
        None,
        None,
    ]


# -- the admin API and the CLI over one seeded store ----------------------------------------


def usage_config(tmp_path) -> str:
    return (
        f'[store]\nurl = "sqlite:///{tmp_path / "u.db"}"\n'
        + CONFIG.replace("{dir}", str(tmp_path))
        + PRICING_TOML
    )


async def seed(store) -> None:
    """alice: two 480p 5 s silent tasks done (15 each); bob: one failed, one done with 8
    credits reported (evolink)."""
    alice, bob = {"end_user_id": "alice"}, {"end_user_id": "bob"}
    small = {"resolution": "480p", "duration_s": 5.0, "audio": False}
    evolink = {"source": "evolink", "provider": "evolink"}
    events = [
        make_event(1, labels=alice, **small),
        make_event(2, labels=alice, **small),
        make_event(3, labels=bob, status="failed"),
        make_event(4, labels=bob, **evolink, credits=Credits(reserved=8)),
    ]
    for event in events:
        await store.ingest(event, RAW, lambda _: [])


FIGURES = ("tasks", "completed", "failed", "credits", "estimated", "cost")
EXPECTED = {
    "alice": dict(zip(FIGURES, (2, 2, 0, 0.0, 30.0, 0.3), strict=True)),
    "bob": dict(zip(FIGURES, (2, 1, 1, 8.0, 8.0, 0.08), strict=True)),
}


async def test_admin_usage_answers_per_group_and_names_a_bad_field(vidhook_factory, tmp_path):
    vidhook = await vidhook_factory(usage_config(tmp_path), run_workers=False)
    await seed(vidhook.services.store)
    params = {"since": "1d", "group_by": "labels.end_user_id"}
    answer = await vidhook.client.get("/admin/usage", params=params, headers=bearer(READER))
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert (report["unit"], report["currency"]) == ("credits", "USD")
    found = {g["group"]["labels.end_user_id"]: g for g in report["groups"]}
    for user, figures in EXPECTED.items():
        assert {k: found[user][k] for k in figures} == figures
    bad = await vidhook.client.get(
        "/admin/usage", params={"group_by": "model,colour"}, headers=bearer(READER)
    )
    assert bad.status_code == 400
    assert "'colour'" in bad.json()["error"]["message"]
    early = await vidhook.client.get(
        "/admin/usage", params={"since": "yesterday"}, headers=bearer(READER)
    )
    assert early.status_code == 400 and "since" in early.json()["error"]["message"]


def test_vidhook_usage_prints_a_table_json_and_csv(tmp_path, capsys):
    config = tmp_path / "vidhook.toml"
    config.write_text(usage_config(tmp_path))

    async def seeded() -> None:
        store = open_store(f"sqlite:///{tmp_path / 'u.db'}")
        await store.open()
        try:
            await seed(store)
        finally:
            await store.close()

    asyncio.run(seeded())
    argv = ["usage", "--by", "end_user_id", "--since", "30d", "--config", str(config)]
    assert main([*argv, "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {g["group"]["labels.end_user_id"]: g["estimated"] for g in lines} == {
        "alice": 30.0, "bob": 8.0,
    }  # fmt: skip
    assert main([*argv, "--csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert rows[0] == {
        "end_user_id": "alice", "tasks": "2", "completed": "2", "failed": "0", "credits": "0",
        "estimated (credits)": "30", "cost (USD)": "0.3", "unpriced": "0",
    }  # fmt: skip
    assert main(argv) == 0
    table = capsys.readouterr().out
    assert "alice" in table and "bob" in table
    assert main([*argv[:-2], "--by", "colour.x", "--config", str(config)]) == 2
    assert "colour.x" in capsys.readouterr().err
