"""Signed links to archived videos: `{public_url}/media/{event_id}/{n}?exp=...&sig=...`.

The signature is an HMAC-SHA256 over the path and the expiry with a key kept in the store's
meta table, so every instance on one database signs and verifies alike. The key is made at
first start; `rotate` makes a new one and keeps the previous one valid until the last link it
signed has expired, so rotating never breaks a link already sent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable

import msgspec

from vidhook.receiver.event import Event
from vidhook.receiver.store import Store
from vidhook.receiver.store.records import ArchiveJob, Linker

__all__ = ["KEYS_META", "MediaLinks", "SigningKeys", "load_keys", "media_path", "rotate_key"]

KEYS_META = "archive_signing_keys"
# A running instance re-reads the keys this often, so a rotation reaches every instance.
_KEYS_TTL = 30.0


class SigningKeys(msgspec.Struct, kw_only=True, frozen=True):
    """The key new links are signed with and the previous one, valid until `previous_until`."""

    current: str
    previous: str | None = None
    previous_until: float | None = None

    def accepted(self, now: float) -> list[str]:
        """The keys a link may be signed with at `now`."""
        keep = self.previous is not None and (self.previous_until or 0.0) > now
        return [self.current, self.previous] if keep and self.previous else [self.current]


_decode_keys = msgspec.json.Decoder(SigningKeys).decode


async def load_keys(store: Store) -> SigningKeys:
    """The store's signing keys, made and stored at first use."""
    fresh = msgspec.json.encode(SigningKeys(current=secrets.token_hex(32))).decode()
    return _decode_keys(await store.add_meta(KEYS_META, fresh))


async def rotate_key(store: Store, now: float, link_expiry: float) -> SigningKeys:
    """Sign with a new key from now on; the current one stays valid for `link_expiry`."""
    old = await load_keys(store)
    keys = SigningKeys(
        current=secrets.token_hex(32), previous=old.current, previous_until=now + link_expiry
    )
    await store.set_meta(KEYS_META, msgspec.json.encode(keys).decode())
    return keys


def media_path(event_id: str, n: int) -> str:
    """The path of an event's `n`th archived video."""
    return f"/media/{event_id}/{n}"


def _signature(key: str, path: str, exp: int) -> str:
    mac = hmac.new(bytes.fromhex(key), f"{path}?exp={exp}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode()


class MediaLinks:
    """Makes and checks an instance's archived_urls: the bucket's public URL of a copy when
    `public_url_of` gives one, else a signed `/media` link under `public_url` that works for
    `link_expiry` seconds."""

    def __init__(
        self,
        store: Store,
        public_url: str,
        link_expiry: float,
        public_url_of: Callable[[str], str | None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.public_url = public_url.rstrip("/")
        self.link_expiry = link_expiry
        self.public_url_of = public_url_of
        self.clock = clock
        self._keys: SigningKeys | None = None
        self._read_at = 0.0

    async def keys(self) -> SigningKeys:
        """The signing keys, re-read from the store every half minute."""
        if self._keys is None or time.monotonic() - self._read_at > _KEYS_TTL:
            self._keys = await load_keys(self.store)
            self._read_at = time.monotonic()
        return self._keys

    def reload(self) -> None:
        """Read the keys from the store again at the next use (after a rotation here)."""
        self._keys = None

    async def linker(self) -> Linker:
        """The store's `Linker`, signing with the current key at the clock's time."""
        keys, now = await self.keys(), self.clock()

        def links(event: Event, jobs: list[ArchiveJob]) -> list[str]:
            by_n = {job.n: job for job in jobs if job.state == "archived" and job.key}
            return [self._link(event.id, n, by_n.get(n), keys.current, now)
                    for n in range(len(event.video_urls))]  # fmt: skip

        return links

    def _link(self, event_id: str, n: int, job: ArchiveJob | None, key: str, now: float) -> str:
        if job is None or job.key is None:
            return ""
        public = self.public_url_of(job.key)
        if public is not None:
            return public
        path, exp = media_path(event_id, n), int(now + self.link_expiry)
        return f"{self.public_url}{path}?exp={exp}&sig={_signature(key, path, exp)}"

    async def verify(self, event_id: str, n: int, exp: int, sig: str) -> bool:
        """Whether `sig` signs this link and `exp` has not passed."""
        now = self.clock()
        if exp <= now:
            return False
        path = media_path(event_id, n)
        wanted = sig.encode()
        return any(
            hmac.compare_digest(_signature(key, path, exp).encode(), wanted)
            for key in (await self.keys()).accepted(now)
        )
