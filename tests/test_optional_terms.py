"""Optional filter terms are settled by their parameters before a database plans them."""

from __future__ import annotations

from vidhook.receiver.store.optional_terms import Variants, optional_names, settle
from vidhook.receiver.store.sql import dialect_queries

SQL = (
    "SELECT 1 FROM t WHERE (:a IS NULL OR a = :a) AND (:b::text IS NULL OR b IN "
    "(SELECT x FROM y WHERE x != ')(')) AND c = :c"
)


def test_an_absent_parameter_settles_its_term_to_true_and_a_present_one_to_its_condition():
    assert optional_names(SQL) == ("a", "b")
    assert settle(SQL, frozenset({"a"})) == (
        "SELECT 1 FROM t WHERE TRUE AND (b IN (SELECT x FROM y WHERE x != ')(')) AND c = :c"
    )
    assert settle(SQL, frozenset()) == (
        "SELECT 1 FROM t WHERE (a = :a) AND (b IN (SELECT x FROM y WHERE x != ')(')) AND c = :c"
    )


def test_variants_are_built_once_per_set_of_absent_parameters():
    built: list[str] = []

    def build(sql: str) -> str:
        built.append(sql)
        return sql

    variants = Variants({"q": SQL, "plain": "SELECT 2"}, build)
    first = variants.for_params("q", {"a": None, "b": "x", "c": 1})
    assert variants.for_params("q", {"a": None, "b": "y", "c": 2}) is first
    assert variants.for_params("plain", {}) == "SELECT 2"
    assert variants.plain("q") == SQL
    assert len(built) == 3  # q and plain as written, and one variant of q


def test_every_statement_of_both_dialects_settles():
    for dialect in ("sqlite", "postgres"):
        for sql in dialect_queries(dialect).values():
            names = frozenset(optional_names(sql))
            assert optional_names(settle(sql, names)) == ()
            assert optional_names(settle(sql, frozenset())) == ()
