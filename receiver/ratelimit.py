"""A token bucket per source, so one flooding provider cannot crowd out the rest."""

from __future__ import annotations

__all__ = ["TokenBucket"]


class TokenBucket:
    """Allows `rate` requests a second on average and bursts of up to `burst`."""

    def __init__(self, rate: float, burst: int | None = None) -> None:
        self.rate = rate
        self.capacity = float(burst if burst is not None else max(1, int(rate)))
        self._tokens = self.capacity
        self._stamp: float | None = None

    def take(self, now: float) -> float:
        """Take one token; return 0 when allowed, else the seconds until one is free."""
        if self._stamp is not None:
            # A wall clock stepped back must not take tokens away.
            elapsed = max(0.0, now - self._stamp)
            self._tokens = min(self.capacity, self._tokens + elapsed * self.rate)
        self._stamp = now
        if self._tokens >= 1:
            self._tokens -= 1
            return 0.0
        return (1 - self._tokens) / self.rate
