"""The store's digests: a lease per digest so it runs once across instances, and each run's
report recorded with its deliveries and its new `last_until` in one commit (see
migrations/*_0015_digests.sql)."""

from __future__ import annotations

import msgspec

from vidhook.receiver.digest_report import DigestReport
from vidhook.receiver.event import new_id, rfc3339_at
from vidhook.receiver.store import scripts
from vidhook.receiver.store.connector import WAKE, Script, execute, fetch_one
from vidhook.receiver.store.store_reads import StoreReads

__all__ = ["StoreDigests", "record_digest"]

_decode_report = msgspec.json.Decoder(DigestReport).decode


def record_digest(
    report: DigestReport,
    *,
    owner: str,
    until: float,
    sinks: list[str],
    anchor: str | None,
    now: float,
) -> Script[str | None]:
    """Mark the run done (only while `owner` holds its lease), keep its report and add one
    pending delivery of it per sink; the id of the report, or None when the lease was lost
    (another instance ran it). `anchor` is an event of the period, which a delivery row must
    name; a period without one sends nothing."""
    done = yield fetch_one("finish_digest_run", digest=report.name, owner=owner, until=until)
    if done is None:
        return None
    digest_id = new_id()
    at = rfc3339_at(now)
    body = msgspec.json.encode(report)
    yield execute(
        "insert_digest", id=digest_id, digest=report.name, since=report.since,
        until=report.until, body=body, now=at,
    )  # fmt: skip
    if anchor is not None and sinks:
        plan = scripts.delivery_plan([(anchor, [(None, sink) for sink in sinks])])
        yield execute(
            "add_digest_deliveries", deliveries=plan, event_id=anchor, digest_id=digest_id, now=at
        )
        yield WAKE
    return digest_id


class StoreDigests(StoreReads):
    """The digest side of `Store`, over the same connector.

    `claim_digest` takes a digest's lease (None when another instance holds it) and answers
    when its last period ended; `record_digest` ends the run; `release_digest` gives the
    lease back unused; `digest_of` is a recorded report, as its deliveries send it.
    """

    async def claim_digest(
        self, name: str, owner: str, now: float, lease: float
    ) -> tuple[bool, float | None]:
        """(claimed, last_until): whether `owner` now holds the digest's lease, and the end
        of the last period it covered (None: it never ran)."""

        def claim() -> Script[tuple[bool, float | None]]:
            yield execute("ensure_digest_run", digest=name)
            row = yield fetch_one(
                "claim_digest_run", digest=name, owner=owner, now=now, lease_until=now + lease
            )
            if row is None:
                return False, None
            return True, None if row["last_until"] is None else float(row["last_until"])

        return await self.connector.transaction(claim)

    async def record_digest(
        self,
        report: DigestReport,
        *,
        owner: str,
        until: float,
        sinks: list[str],
        anchor: str | None,
        now: float,
    ) -> str | None:
        """See `record_digest` (the script)."""
        return await self.connector.transaction(
            lambda: record_digest(
                report, owner=owner, until=until, sinks=sinks, anchor=anchor, now=now
            )
        )

    async def start_digest(self, name: str, owner: str, at: float) -> bool:
        """Set a digest that never ran to count from `at`, sending nothing (only while `owner`
        holds its lease)."""
        statement = fetch_one("finish_digest_run", digest=name, owner=owner, until=at)
        return await self.connector.write(statement) is not None

    async def release_digest(self, name: str, owner: str) -> None:
        await self.connector.write(execute("release_digest_run", digest=name, owner=owner))

    async def digest_last_run(self, name: str) -> float | None:
        row = await self._one("digest_last_run", digest=name)
        return None if row is None or row["last_until"] is None else float(row["last_until"])

    async def digest_of(self, digest_id: str) -> DigestReport | None:
        row = await self._one("get_digest", id=digest_id)
        return None if row is None else _decode_report(bytes(row["body"]))
