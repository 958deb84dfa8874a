"""The `when` filter of a routing rule: Mongo-style operators over an event, compiled once.

A filter is a table. Its keys are dotted event field paths (`labels.team`, `error.code`) or the
logical operators `$and`, `$or` (lists of filters) and `$not`; several keys are ANDed. A field's
value is a bare value (meaning `$eq`), a table of operators (`$eq $ne $in $nin $regex $exists
$gt $gte $lt $lte $not`), or a table of sub-fields, as in Hookdeck: `error = { code = "x" }` is
`"error.code" = "x"`.

Semantics follow MongoDB where they apply:

- a list field (`video_urls`, `verified_by`) matches `$eq`, `$in`, `$regex` and the ordered
  comparisons when any element does; `$ne` and `$nin` are their negations, so they match a
  missing field;
- a field that is absent or null is missing: `$exists = false` matches it, nothing else but
  `$ne`, `$nin` and `$not` does;
- `$gt` and friends compare numbers with numbers and strings with strings (RFC 3339 times
  compare as strings; a TOML date-time is turned into vidhook's RFC 3339 form); mismatched
  types never match and never raise. Booleans are never numbers.

Errors are found at load and name the place and the operator: `when.labels.team: unknown
operator $equals`.
"""

from __future__ import annotations

import datetime as dt
import json
import operator
import re
from collections.abc import Callable, Mapping
from typing import Any

from vidhook.receiver.errors import ConfigError
from vidhook.receiver.event import Credits, ErrorInfo, Event, rfc3339

__all__ = ["MISSING", "Filter", "compile_filter"]


class _Missing:
    """What a path resolves to when the event has no value there."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING = _Missing()

Node = Callable[[Mapping[str, Any]], bool]
Test = Callable[[Any], bool]

_EVENT_FIELDS: tuple[str, ...] = Event.__struct_fields__
_SUBFIELDS: dict[str, tuple[str, ...]] = {
    "error": ErrorInfo.__struct_fields__,
    "credits": Credits.__struct_fields__,
}


class Filter:
    """A compiled `when` filter: one pure `matches(doc)` over `msgspec.to_builtins(event)`."""

    __slots__ = ("_node", "spec")

    def __init__(self, spec: Mapping[str, Any], node: Node) -> None:
        self.spec = spec
        self._node = node

    def matches(self, doc: Mapping[str, Any]) -> bool:
        """Whether the event, in its builtins form, passes this filter."""
        return self._node(doc)

    def describe(self) -> str:
        """The filter as written, on one line."""
        return json.dumps(self.spec, default=str, ensure_ascii=False)

    def __repr__(self) -> str:
        return f"Filter({self.describe()})"


def compile_filter(spec: Mapping[str, Any], *, where: str = "when") -> Filter:
    """Check a filter table and compile it into a Filter; `where` prefixes error messages."""
    if not isinstance(spec, Mapping):
        raise ConfigError(f"{where}: a filter is a table of fields, got {_kind(spec)}")
    node = _compile(spec, (), where) if spec else _always
    return Filter(spec, node)


def _always(doc: Mapping[str, Any]) -> bool:
    return True


def _compile(value: Any, path: tuple[str, ...], where: str) -> Node:
    if not isinstance(value, Mapping):
        if not path:
            raise ConfigError(f"{where}: a filter is a table of fields, got {_kind(value)}")
        return _field(path, _equals_test(_argument(value, where, "$eq")))
    if not value:
        raise ConfigError(f"{where}: empty table; write a value or an operator such as $exists")
    nodes = [_compile_key(str(key), item, path, where) for key, item in value.items()]
    return nodes[0] if len(nodes) == 1 else _all_of(nodes)


def _compile_key(key: str, item: Any, path: tuple[str, ...], where: str) -> Node:
    if key in ("$and", "$or"):
        if not isinstance(item, list) or not item:
            raise ConfigError(f"{where}: {key} takes a non-empty list of filters")
        nodes = [_compile(sub, path, f"{where}.{key}[{i}]") for i, sub in enumerate(item)]
        return _all_of(nodes) if key == "$and" else _any_of(nodes)
    if key == "$not":
        inner = _compile(item, path, f"{where}.$not")
        return lambda doc: not inner(doc)
    if key in _OPERATORS:
        if not path:
            raise ConfigError(f"{where}: {key} needs a field: {{ status = {{ {key} = ... }} }}")
        return _field(path, _OPERATORS[key](item, where, key))
    if key.startswith("$"):
        raise ConfigError(f"{where}: unknown operator {key}")
    sub = (*path, *key.split("."))
    _check_path(sub, f"{where}.{key}")
    return _compile(item, sub, f"{where}.{key}")


def _check_path(path: tuple[str, ...], where: str) -> None:
    head, rest = path[0], path[1:]
    if head not in _EVENT_FIELDS:
        known = ", ".join(_EVENT_FIELDS)
        raise ConfigError(f"{where}: unknown event field {head!r} (known: {known})")
    if "" in path:
        raise ConfigError(f"{where}: empty segment in field path {'.'.join(path)!r}")
    if head == "labels":
        ok, hint = len(rest) <= 1, "labels holds one level of names"
    elif head in _SUBFIELDS:
        ok = not rest or (len(rest) == 1 and rest[0] in _SUBFIELDS[head])
        hint = f"{head} has: {', '.join(_SUBFIELDS[head])}"
    else:
        ok, hint = not rest, f"{head} has no sub-fields"
    if not ok:
        raise ConfigError(f"{where}: unknown field {'.'.join(path)!r} ({hint})")


def _field(path: tuple[str, ...], test: Test) -> Node:
    return lambda doc: test(_resolve(doc, path))


def _resolve(doc: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    current: Any = doc
    for segment in path:
        if not isinstance(current, Mapping):
            return MISSING
        current = current.get(segment, MISSING)
    return MISSING if current is None else current


def _all_of(nodes: list[Node]) -> Node:
    return lambda doc: all(node(doc) for node in nodes)


def _any_of(nodes: list[Node]) -> Node:
    return lambda doc: any(node(doc) for node in nodes)


def _negate(test: Test) -> Test:
    return lambda value: not test(value)


def _elementwise(test: Test) -> Test:
    """A test that also passes for a list with any element passing (Mongo's array rule)."""
    return lambda value: test(value) or (isinstance(value, list) and any(map(test, value)))


# Operators: each takes the written argument, the place and its own name, and returns a test.


def _op_eq(arg: Any, where: str, op: str) -> Test:
    return _equals_test(_argument(arg, where, op))


def _op_ne(arg: Any, where: str, op: str) -> Test:
    return _negate(_op_eq(arg, where, op))


def _op_in(arg: Any, where: str, op: str) -> Test:
    if not isinstance(arg, list):
        raise ConfigError(f"{where}: {op} takes a list of values, got {_kind(arg)}")
    tests = [_equals_test(_argument(item, where, op)) for item in arg]
    return lambda value: any(test(value) for test in tests)


def _op_nin(arg: Any, where: str, op: str) -> Test:
    return _negate(_op_in(arg, where, op))


def _op_regex(arg: Any, where: str, op: str) -> Test:
    if not isinstance(arg, str):
        raise ConfigError(f"{where}: {op} takes a pattern string, got {_kind(arg)}")
    try:
        pattern = re.compile(arg)
    except re.error as exc:
        raise ConfigError(f"{where}: {op}: invalid pattern {arg!r}: {exc}") from None
    return _elementwise(lambda value: isinstance(value, str) and pattern.search(value) is not None)


def _op_exists(arg: Any, where: str, op: str) -> Test:
    if not isinstance(arg, bool):
        raise ConfigError(f"{where}: {op} takes true or false, got {_kind(arg)}")
    return lambda value: (value is not MISSING) is arg


def _ordered(compare: Callable[[Any, Any], bool]) -> Callable[[Any, str, str], Test]:
    def build(arg: Any, where: str, op: str) -> Test:
        bound = _argument(arg, where, op)
        if not (_is_number(bound) or isinstance(bound, str)):
            raise ConfigError(f"{where}: {op} takes a number or a string, got {_kind(arg)}")

        def test(value: Any) -> bool:
            same_kind = (_is_number(value) and _is_number(bound)) or (
                isinstance(value, str) and isinstance(bound, str)
            )
            return same_kind and compare(value, bound)

        return _elementwise(test)

    return build


_OPERATORS: dict[str, Callable[[Any, str, str], Test]] = {
    "$eq": _op_eq,
    "$ne": _op_ne,
    "$in": _op_in,
    "$nin": _op_nin,
    "$regex": _op_regex,
    "$exists": _op_exists,
    "$gt": _ordered(operator.gt),
    "$gte": _ordered(operator.ge),
    "$lt": _ordered(operator.lt),
    "$lte": _ordered(operator.le),
}


def _equals_test(expected: Any) -> Test:
    return _elementwise(lambda value: _same(value, expected))


def _same(a: Any, b: Any) -> bool:
    """Equality without Python's cross-type surprises (`True == 1`)."""
    if _is_number(a) and _is_number(b):
        return bool(a == b)
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return bool(a == b)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _argument(value: Any, where: str, op: str) -> Any:
    """An operator's argument in the event's builtins form (TOML date-times as RFC 3339)."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ConfigError(f"{where}: {op}: a date-time needs an offset, e.g. Z")
        return rfc3339(value)
    if isinstance(value, dt.date | dt.time):
        raise ConfigError(f"{where}: {op}: use a date-time with an offset, e.g. ...T00:00:00Z")
    if isinstance(value, list):
        return [_argument(item, where, op) for item in value]
    if isinstance(value, Mapping):
        return {str(k): _argument(v, where, op) for k, v in value.items()}
    return value


def _kind(value: Any) -> str:
    if isinstance(value, Mapping):
        return "a table"
    return type(value).__name__
