"""Failed API logins counted per client address, so a wrong-token guesser is slowed to a crawl.

After `limit` failed logins (no, malformed or unknown bearer token) from one address within
`window` seconds, that address gets 429 with Retry-After for `lockout` seconds, whatever token
it sends: a guesser learns nothing more until the lockout ends. A correct token from another
address is never held up. The table is bounded: past `max_clients` addresses, the ones not
locked out are forgotten first.
"""

from __future__ import annotations

from dataclasses import dataclass

from vidhook.receiver.errors import RateLimited

__all__ = ["FailedLogins"]


@dataclass
class _Record:
    """One address's failures since `since`, and the end of its lockout (0: none)."""

    since: float
    failures: int = 0
    locked_until: float = 0.0


class FailedLogins:
    """Failed-login counts per client address, with a lockout past `limit`."""

    def __init__(
        self,
        limit: int = 10,
        window: float = 300.0,
        lockout: float = 300.0,
        max_clients: int = 10_000,
    ) -> None:
        self.limit = limit
        self.window = window
        self.lockout = lockout
        self.max_clients = max_clients
        self._records: dict[str, _Record] = {}

    def check(self, client: str, now: float) -> None:
        """Raise RateLimited while `client` is locked out."""
        record = self._records.get(client)
        if record is not None and record.locked_until > now:
            raise RateLimited(
                f"too many failed logins from {client}; try again later",
                retry_after=record.locked_until - now,
            )

    def failed(self, client: str, now: float) -> bool:
        """Count one failed login from `client`; return whether it is now locked out."""
        record = self._records.get(client)
        if record is None or now - record.since > self.window or 0 < record.locked_until <= now:
            if len(self._records) >= self.max_clients:
                self._forget(now)
            record = self._records[client] = _Record(since=now)
        record.failures += 1
        if record.failures >= self.limit:
            record.locked_until = now + self.lockout
            return True
        return False

    def _forget(self, now: float) -> None:
        """Drop every address not locked out now; if all are, drop the oldest half."""
        kept = {k: r for k, r in self._records.items() if r.locked_until > now}
        if len(kept) >= self.max_clients:
            oldest = sorted(kept, key=lambda k: kept[k].since)[: len(kept) // 2]
            for key in oldest:
                del kept[key]
        self._records = kept
