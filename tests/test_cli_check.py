"""`vidhook check`: warnings about proxy trust that a config can load with, and `--connect`
reaching the store (a real PostgreSQL database, a port nobody listens on, a SQLite file)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.pg import postgres_database
from tests.sink_servers import free_port
from vidhook.receiver.cli import main

PROXIED = """
[server]
public_url = "https://hooks.example.com"
{server}

[store]
url = "{store}"

[sources.partner]
provider = "vibegen"
allow_ips = ["203.0.113.0/24"]
{source}
"""


def _check(tmp_path: Path, capsys, *, server="", source="", store="", connect=False):
    config = tmp_path / "vidhook.toml"
    url = store or f"sqlite:///{tmp_path / 'vidhook.db'}"
    config.write_text(PROXIED.format(server=server, source=source, store=url))
    code = main(["check", "--config", str(config), *(["--connect"] if connect else [])])
    out, err = capsys.readouterr()
    warnings = [line for line in out.splitlines() if line.startswith("warning: ")]
    return code, warnings, out, err


def test_allow_ips_behind_an_untrusted_proxy_is_warned_about(tmp_path, capsys):
    code, warnings, _, _ = _check(tmp_path, capsys)
    assert code == 0
    assert len(warnings) == 1
    assert warnings[0].startswith("warning: sources.partner.allow_ips: callbacks reach vidhook")
    assert "Set server.trusted_proxies to the proxy's own address" in warnings[0]


@pytest.mark.parametrize(
    ("server", "source"),
    [('trusted_proxies = ["10.89.0.10/32"]', ""), ("", 'trusted_proxies = ["10.89.0.10"]')],
)
def test_a_pinned_proxy_address_is_no_warning(tmp_path, capsys, server, source):
    code, warnings, _, _ = _check(tmp_path, capsys, server=server, source=source)
    assert (code, warnings) == (0, [])


def test_a_source_that_trusts_no_proxy_behind_a_proxy_is_warned_about(tmp_path, capsys):
    server = 'trusted_proxies = ["10.89.0.10/32"]'
    _, warnings, _, _ = _check(tmp_path, capsys, server=server, source="trusted_proxies = []")
    assert [w.split(":")[1] for w in warnings] == [" sources.partner.allow_ips"]


def test_wide_trusted_ranges_are_warned_about(tmp_path, capsys):
    server = 'trusted_proxies = ["172.16.0.0/12", "10.1.2.0/24", "fd00::/48", "fd00:1::/64"]'
    _, warnings, _, _ = _check(tmp_path, capsys, server=server)
    assert [w.split(":")[1] for w in warnings] == [
        " server.trusted_proxies[0]",
        " server.trusted_proxies[2]",
    ]
    assert "172.16.0.0/12 trusts 1048576 addresses" in warnings[0]
    _, warnings, _, _ = _check(tmp_path, capsys, source='trusted_proxies = ["10.0.0.0/16"]')
    assert [w.split(":")[1] for w in warnings] == [" sources.partner.trusted_proxies[0]"]


def test_connect_reaches_a_sqlite_store(tmp_path, capsys):
    code, _, out, _ = _check(
        tmp_path, capsys, server='trusted_proxies = ["10.0.0.1/32"]', connect=True
    )
    assert code == 0
    assert f"store: sqlite:///{tmp_path / 'vidhook.db'} answers" in out


async def test_connect_reaches_a_postgres_store(tmp_path, capsys):
    async with postgres_database() as url:
        # main() runs its own event loop; a thread keeps it off this test's.
        code, _, out, _ = await asyncio.to_thread(_check, tmp_path, capsys, store=url, connect=True)
    assert code == 0
    assert "store: postgresql://postgres@127.0.0.1:5432/vidhook_test_" in out


def test_connect_fails_clearly_when_the_database_does_not_answer(tmp_path, capsys):
    url = f"postgresql://vidhook:secret-pw@127.0.0.1:{free_port()}/vidhook"
    code, _, out, err = _check(tmp_path, capsys, store=url, connect=True)
    assert code == 5  # store or service unreachable
    assert err.startswith(
        "vidhook: cannot open PostgreSQL store postgresql://vidhook:***@127.0.0.1"
    )
    assert "secret-pw" not in err + out


def test_connect_fails_clearly_when_the_sqlite_file_cannot_be_opened(tmp_path, capsys):
    (tmp_path / "a-directory").mkdir(mode=0o700)  # where the database file should be
    url = f"sqlite:///{tmp_path / 'a-directory'}"
    code, _, _, err = _check(tmp_path, capsys, store=url, connect=True)
    assert code == 5
    assert err.startswith("vidhook: cannot open SQLite store '")
    assert "Traceback" not in err


def test_without_connect_an_unreachable_store_passes(tmp_path, capsys):
    url = f"postgresql://vidhook:pw@127.0.0.1:{free_port()}/vidhook"
    code, _, out, _ = _check(tmp_path, capsys, store=url)
    assert code == 0
    assert "store:" not in out
