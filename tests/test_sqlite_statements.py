"""How the SQLite connector prepares the dialect's statements: numbered parameters, skips."""

from __future__ import annotations

import sqlite3

from vidhook.receiver.store.sql import dialect_queries
from vidhook.receiver.store.sqlite_connector import _migrate, _split

_STATEMENT_WORDS = ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")


def test_named_parameters_become_numbered_and_a_repeated_name_keeps_its_number() -> None:
    [statement] = _split("UPDATE t SET a = :a, b = :b WHERE a = :a")
    assert statement.text == "UPDATE t SET a = ?1, b = ?2 WHERE a = ?1"
    assert statement.names == ("a", "b")


def test_string_literals_and_comments_keep_their_colons() -> None:
    sql = "-- note: the :x in a comment\nSELECT ':x', 'it''s :y', json_extract(:doc, '$.a') AS v"
    [statement] = _split(sql)
    assert "-- note: the :x in a comment" in statement.text
    assert "':x', 'it''s :y'" in statement.text
    assert "json_extract(?1, '$.a')" in statement.text
    assert statement.names == ("doc",)
    row = sqlite3.connect(":memory:").execute(statement.text, ['{"a": 1}']).fetchone()
    assert row == (":x", "it's :y", 1)


def test_a_skip_directive_applies_to_the_next_statement_only() -> None:
    first, second, third = _split(
        "INSERT INTO a VALUES (:x);\n-- skip when empty: labels\nINSERT INTO b VALUES (:labels);\n"
        "INSERT INTO c VALUES (:x)"
    )
    assert (first.skip, second.skip, third.skip) == (None, "labels", None)


def test_every_statement_of_the_dialect_prepares_with_its_numbered_parameters() -> None:
    """Each statement prepared on the real schema with exactly its names' values: a `:name`
    left unconverted would make SQLite ask for one more value than `names` holds."""
    conn = sqlite3.connect(":memory:")
    _migrate(conn)
    checked: set[str] = set()
    for name, block in dialect_queries("sqlite").items():
        for statement in _split(block):
            code = [line for line in statement.text.splitlines() if not line.startswith("--")]
            if not code[0].lstrip().startswith(_STATEMENT_WORDS):
                continue  # a fragment other statements include (a filter, a column list)
            conn.execute(f"EXPLAIN {statement.text}", [None] * len(statement.names))
            checked.add(name)
    assert {"advance_task", "insert_event", "claim", "list_events"} <= checked
