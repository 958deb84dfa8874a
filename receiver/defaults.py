"""The embedded default: every provider as a source, events to the log and ./events.jsonl,
videos kept in ./videos.

Tokens are generated once and kept in the store, so callback URLs survive a restart.
"""

from __future__ import annotations

import secrets

import msgspec

from vidhook.receiver.config import ApiToken, ArchiveConfig, RuleConfig, Settings, StoreConfig
from vidhook.receiver.providers import PROVIDERS
from vidhook.receiver.store import Store

__all__ = [
    "DEFAULT_ARCHIVE",
    "DEFAULT_PROVIDERS",
    "default_settings",
    "default_store_url",
    "embedded_settings",
    "unsaved_default_settings",
]

# Every provider whose source needs nothing but a token (generic needs its `mapping`).
DEFAULT_PROVIDERS = tuple(
    name
    for name, provider in PROVIDERS.items()
    if not any(field.required for field in msgspec.structs.fields(provider.config))
)
_META_KEY = "default_tokens"
# The first run keeps its videos. Deliveries do not wait for the archive here: a trial's
# `vidhook simulate` names videos no CDN serves, and its events should show at once.
DEFAULT_ARCHIVE = ArchiveConfig(store="file://./videos", allow_private=False, before_routing=False)


def default_store_url() -> str:
    """SQLite in the working directory."""
    return "sqlite:///vidhook.db"


def _fill_tokens(tokens: dict[str, str]) -> list[str]:
    """Add a new token for each source (and the admin) that has none; the names added."""
    missing = [name for name in (*DEFAULT_PROVIDERS, "admin") if name not in tokens]
    for name in missing:
        tokens[name] = secrets.token_urlsafe(24)
    return missing


async def _tokens(store: Store) -> dict[str, str]:
    saved = await store.get_meta(_META_KEY)
    tokens: dict[str, str] = msgspec.json.decode(saved) if saved else {}
    if _fill_tokens(tokens):
        await store.set_meta(_META_KEY, msgspec.json.encode(tokens).decode())
    return tokens


async def default_settings(store: Store) -> Settings:
    """Settings for running with no config file, with tokens from (or saved to) the store."""
    return embedded_settings(await _tokens(store), store.url)


def unsaved_default_settings() -> Settings:
    """The embedded default with new tokens kept nowhere: for checking it, not running it."""
    tokens: dict[str, str] = {}
    _fill_tokens(tokens)
    return embedded_settings(tokens, default_store_url())


def embedded_settings(tokens: dict[str, str], store_url: str) -> Settings:
    """The embedded default with these tokens and store."""
    return Settings(
        store=StoreConfig(url=store_url),
        api_tokens=[ApiToken(name="admin", token=tokens["admin"], scopes=["read", "admin"])],
        sources={name: PROVIDERS[name].config(tokens=[tokens[name]]) for name in DEFAULT_PROVIDERS},
        sinks={"log": {"type": "log"}, "events-file": {"type": "file", "path": "events.jsonl"}},
        rules=[RuleConfig(name="everything", sinks=["log", "events-file"])],
        archive=DEFAULT_ARCHIVE,
    )
