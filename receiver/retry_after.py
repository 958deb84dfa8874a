"""`Retry-After` read as seconds: the one reading shared by the sinks and the provider calls."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

__all__ = ["parse_retry_after"]

# RFC 9110 delta-seconds: ASCII digits only, so no sign, fraction, exponent, "inf" or "nan".
_DELTA_SECONDS = re.compile(r"[0-9]+")
# More digits than this is over 31 years: as good as forever, and it keeps int() and float()
# away from numbers too long to convert.
_DELTA_DIGITS = 9


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """`Retry-After` as seconds from now, from either delta-seconds or an HTTP date.

    Anything else (a fraction, a sign, `inf`, `1e300`) is ignored as if absent (None).
    """
    if not value:
        return None
    text = value.strip()
    if _DELTA_SECONDS.fullmatch(text):
        digits = text.lstrip("0")
        return float(int(digits or "0")) if len(digits) <= _DELTA_DIGITS else 10.0**_DELTA_DIGITS
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
