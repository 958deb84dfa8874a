"""Provider dialects, one module each, and the registry that names them."""

from __future__ import annotations

from vidhook.receiver.errors import NotFound
from vidhook.receiver.providers import aioagi, ark, evolink, generic, seedanceapi, vibegen, videoapi
from vidhook.receiver.providers.base import CreatedTask, Provider, ProviderRequest

__all__ = ["PROVIDERS", "CreatedTask", "Provider", "ProviderRequest", "get_provider"]

PROVIDERS: dict[str, Provider] = {
    "vibegen": vibegen.PROVIDER,
    "evolink": evolink.PROVIDER,
    "videoapi": videoapi.PROVIDER,
    "seedanceapi": seedanceapi.PROVIDER,
    "aioagi": aioagi.PROVIDER,
    "ark": ark.PROVIDER,
    "generic": generic.PROVIDER,
}


def get_provider(name: str) -> Provider:
    """The provider dialect of this name."""
    try:
        return PROVIDERS[name]
    except KeyError:
        raise NotFound(f"unknown provider {name!r}; known: {', '.join(PROVIDERS)}") from None
