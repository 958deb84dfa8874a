"""Provider timestamps read as RFC 3339 UTC, and anything unreadable read as None."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vidhook.receiver.event import rfc3339, to_rfc3339

RFC3339_UTC = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")

offsets = st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
anything = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(),
    st.text(alphabet="0123456789.²³¹٠١٢٣٤٥٦٧٨٩ +-:TZ"),
    st.datetimes(timezones=st.none() | offsets).map(datetime.isoformat),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=3),
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-03-10T10:02:30Z", "2025-03-10T10:02:30.000Z"),
        ("2026-03-28T09:00:00+08:00", "2026-03-28T01:00:00.000Z"),
        ("2025-03-10T10:00:00", "2025-03-10T10:00:00.000Z"),
        (1743414619, "2025-03-31T09:50:19.000Z"),
        (1774660000000, "2026-03-28T01:06:40.000Z"),
        ("1743414619", "2025-03-31T09:50:19.000Z"),
        (" 1743414619.25 ", "2025-03-31T09:50:19.250Z"),
    ],
)
def test_provider_clocks_read_as_utc(value: object, expected: str) -> None:
    assert to_rfc3339(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "²",
        "١٢٣",
        10**400,
        -(10**400),
        2**63,
        float("inf"),
        float("nan"),
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-01:00",
        "9" * 400,
        "",
        "yesterday",
        True,
        None,
        [1743414619],
    ],
)
def test_what_cannot_be_read_is_none(value: object) -> None:
    assert to_rfc3339(value) is None


@settings(max_examples=500, deadline=None)
@given(anything)
def test_any_value_is_none_or_rfc3339_utc(value: object) -> None:
    text = to_rfc3339(value)
    assert text is None or RFC3339_UTC.fullmatch(text), text


@settings(max_examples=300, deadline=None)
@given(st.datetimes(timezones=offsets))
def test_an_iso_moment_keeps_its_instant(moment: datetime) -> None:
    text = to_rfc3339(moment.isoformat())
    try:
        expected = rfc3339(moment)
    except OverflowError:  # the instant falls outside years 1..9999 in UTC
        assert text is None
    else:
        assert text == expected
        assert datetime.fromisoformat(text).astimezone(UTC) == moment.replace(
            microsecond=moment.microsecond // 1000 * 1000
        )
