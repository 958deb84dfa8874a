"""The quick ways vidhook writes times give exactly what the general formatter gives."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import example, given, settings
from hypothesis import strategies as st

from vidhook.receiver.event import _moment, rfc3339, rfc3339_at, to_rfc3339


def by_datetime(value: object) -> str | None:
    """`to_rfc3339` the long way: read the moment, then format it."""
    try:
        moment = _moment(value)
    except (ValueError, OverflowError, OSError):
        return None
    return None if moment is None else rfc3339(moment)


@settings(max_examples=2000)
@given(st.floats(min_value=-2e9, max_value=4e9, allow_nan=False))
@example(1_700_000_000.9995)
@example(1_700_000_000.99999951)
@example(1_796_610_778.6389995)
@example(-1.0000004)
@example(0.0)
def test_a_unix_time_reads_as_datetime_writes_it(seconds: float) -> None:
    assert rfc3339_at(seconds) == rfc3339(datetime.fromtimestamp(seconds, UTC))


def test_consecutive_times_in_one_second_keep_their_own_milliseconds() -> None:
    assert [rfc3339_at(1_700_000_000 + n / 1000) for n in (1, 2, 999)] == [
        "2023-11-14T22:13:20.001Z",
        "2023-11-14T22:13:20.002Z",
        "2023-11-14T22:13:20.999Z",
    ]
    assert rfc3339_at(1_700_000_001.0) == "2023-11-14T22:13:21.000Z"


_DIGITS = st.integers(0, 99).map(lambda n: f"{n:02d}")
_FRACTION = st.text("0123456789", min_size=1, max_size=8).map(".{}".format)


@settings(max_examples=3000)
@given(
    year=st.sampled_from(["0000", "0001", "0999", "1970", "2024", "2025", "9999"]),
    rest=st.tuples(_DIGITS, _DIGITS, _DIGITS, _DIGITS, _DIGITS),
    fraction=st.one_of(st.just(""), _FRACTION),
)
@example(year="2025", rest=("02", "29", "10", "00", "00"), fraction="")
@example(year="2024", rest=("02", "29", "24", "00", "00"), fraction="")
@example(year="2025", rest=("03", "10", "10", "00", "60"), fraction=".9999995")
def test_utc_text_reads_as_datetime_writes_it(
    year: str, rest: tuple[str, ...], fraction: str
) -> None:
    month, day, hour, minute, second = rest
    text = f"{year}-{month}-{day}T{hour}:{minute}:{second}{fraction}Z"
    assert to_rfc3339(text) == by_datetime(text)
