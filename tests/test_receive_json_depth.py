"""The nesting check that refuses JSON deeper than server.max_json_depth before decoding it."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from vidhook.receiver.json_depth import nests_deeper_than

leaves = st.none() | st.booleans() | st.integers() | st.text(alphabet='[]{}"\\ab,:')
documents = st.recursive(
    leaves,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=30,
)


def depth(value: object) -> int:
    if isinstance(value, list):
        return 1 + max((depth(item) for item in value), default=0)
    if isinstance(value, dict):
        return 1 + max((depth(item) for item in value.values()), default=0)
    return 0


@settings(max_examples=300, deadline=None)
@given(documents, st.integers(min_value=0, max_value=8))
def test_matches_the_depth_of_the_decoded_document(document: object, limit: int) -> None:
    text = json.dumps(document).encode()
    assert nests_deeper_than(text, limit) == (depth(document) > limit)


def test_brackets_in_strings_and_escaped_quotes_do_not_nest() -> None:
    assert not nests_deeper_than(b'{"a": "[[[[{{{{\\"[[[[", "b": ["]]]]"]}', 2)


def test_a_megabyte_of_openers_is_deep() -> None:
    assert nests_deeper_than(b"[" * 1_048_576, 64)
