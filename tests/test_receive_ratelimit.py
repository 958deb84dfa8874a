"""The per-source token bucket behind 429 answers."""

from __future__ import annotations

from vidhook.receiver.ratelimit import TokenBucket


def test_a_burst_then_one_request_per_interval() -> None:
    bucket = TokenBucket(rate=2, burst=3)
    assert [bucket.take(100.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take(100.0) == 0.5
    assert bucket.take(100.5) == 0.0


def test_a_clock_stepped_back_takes_no_tokens_away() -> None:
    bucket = TokenBucket(rate=1, burst=2)
    assert bucket.take(1000.0) == 0.0
    assert bucket.take(400.0) == 0.0  # one token left, whatever the clock says
    assert bucket.take(400.0) > 0
    assert bucket.take(401.0) == 0.0
