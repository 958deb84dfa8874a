"""Where the config locator finds keys: tables, arrays of tables, dotted keys, inline tables
and arrays, past strings and comments that look like TOML."""

from __future__ import annotations

import tomllib

from vidhook.receiver.config_positions import key_positions, locate, split_path, with_position

TEXT = '''# [not.a.table]
[server]
port = 8080  # [also.not]
"quoted key" = 1

[sources.a]
provider = "generic"
tokens = [
  "one",  # first
  "two",
]
mapping = { task_id = "id", status = { path = "s" } }
note = """
[fake]
x = 1
"""
site.region = 'eu'

[[rules]]
name = "first"

[[rules]]
name = "second"
sinks = ["out"]
'''


def test_the_text_is_toml() -> None:
    assert tomllib.loads(TEXT)["rules"][1]["sinks"] == ["out"]


def test_keys_are_found_where_they_are_written() -> None:
    found = key_positions(TEXT)
    assert found[("server",)] == (2, 1)
    assert found[("server", "port")] == (3, 1)
    assert found[("server", "quoted key")] == (4, 1)
    assert found[("sources", "a", "tokens", 1)] == (10, 3)
    assert found[("sources", "a", "mapping", "status", "path")] == (12, 40)
    assert found[("sources", "a", "site", "region")] == (17, 1)
    assert found[("rules", 1, "sinks", 0)] == (24, 10)
    assert ("fake",) not in found and ("not", "a", "table") not in found


def test_a_missing_key_points_at_its_table() -> None:
    assert locate(TEXT, split_path("sources.a.base_url")) == (6, 1)
    assert locate(TEXT, split_path("rules[1].stop")) == (22, 1)


def test_errors_gain_a_position_once() -> None:
    message = with_position("f.toml: sources.a.tokens[1]: too short", "f.toml", TEXT)
    assert message == "f.toml: sources.a.tokens[1]: too short (at line 10, column 3)"
    assert with_position(message, "f.toml", TEXT) == message
    ruled = with_position('f.toml: rule "second": sinks: unknown sink', "f.toml", TEXT)
    assert ruled.endswith("(at line 24, column 1)")
    assert with_position("other.toml: x: y", "f.toml", TEXT) == "other.toml: x: y"
