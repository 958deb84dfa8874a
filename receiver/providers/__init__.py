"""Provider dialects, one module each, and the registry that names them: one line per provider.

Everything vidhook knows of a provider lives in its module's `PROVIDER`; the names, the
`provider` key's choices and the config union below are read off this registry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, TypeAlias, Union

from vidhook.receiver.errors import NotFound
from vidhook.receiver.providers import aioagi, ark, evolink, generic, seedanceapi, vibegen, videoapi
from vidhook.receiver.providers.base import CreatedTask, Provider, ProviderRequest
from vidhook.receiver.providers.source_config import SourceConfigBase

__all__ = [
    "PROVIDERS",
    "PROVIDER_NAMES",
    "CreatedTask",
    "Provider",
    "ProviderName",
    "ProviderRequest",
    "SourceConfig",
    "get_provider",
]

PROVIDERS: dict[str, Provider[Any]] = {
    provider.name: provider
    for provider in (
        vibegen.PROVIDER,
        evolink.PROVIDER,
        ark.PROVIDER,
        videoapi.PROVIDER,
        seedanceapi.PROVIDER,
        aioagi.PROVIDER,
        generic.PROVIDER,
    )
}
PROVIDER_NAMES: tuple[str, ...] = tuple(PROVIDERS)

if TYPE_CHECKING:
    # Code past the config reads only the options every source has, so the checker sees the base.
    ProviderName: TypeAlias = str
    SourceConfig: TypeAlias = SourceConfigBase
else:
    # Decoders see the real choices: a `[sources.NAME]` table decodes into its provider's Struct.
    ProviderName = Literal[PROVIDER_NAMES]
    SourceConfig = Union[tuple(provider.config for provider in PROVIDERS.values())]  # noqa: UP007


def get_provider(name: str) -> Provider[Any]:
    """The provider dialect of this name."""
    try:
        return PROVIDERS[name]
    except KeyError:
        raise NotFound(f"unknown provider {name!r}; known: {', '.join(PROVIDERS)}") from None
