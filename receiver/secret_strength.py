"""Minimum strength of the secrets in a config: a short token or key is refused at load.

A hook URL token or an API token is compared as text, so it needs 16 characters; an HMAC secret
or a Standard Webhooks key signs bytes, so it needs 16 bytes (a `whsec_` key counted after its
base64 is decoded). Guessing 16 random characters of a URL-safe alphabet is out of reach; the
1-character token this refuses was not.
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING

from vidhook.receiver.errors import ConfigError

if TYPE_CHECKING:
    from vidhook.receiver.config import Settings

__all__ = ["MIN_SECRET_BYTES", "MIN_TOKEN_CHARS", "check_secret_strength", "whsec_key"]

MIN_TOKEN_CHARS = 16
MIN_SECRET_BYTES = 16


def whsec_key(secret: str) -> bytes | None:
    """The key bytes of a Standard Webhooks secret (`whsec_<base64>`), or None if not base64."""
    text = secret.strip().removeprefix("whsec_")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None


def _listed(value: str | list[str], where: str) -> list[tuple[str, str]]:
    if isinstance(value, str):
        return [(value, where)]
    return [(item, f"{where}[{i}]") for i, item in enumerate(value)]


def _check_token(token: str, where: str) -> None:
    if len(token) < MIN_TOKEN_CHARS:
        raise ConfigError(
            f"{where}: too short ({len(token)} characters); a token needs at least "
            f"{MIN_TOKEN_CHARS}, such as one from `openssl rand -hex 16`"
        )


def _check_hmac_secret(secret: str, where: str) -> None:
    size = len(secret.encode())
    if secret and size < MIN_SECRET_BYTES:  # an empty one is refused where it is parsed
        raise ConfigError(
            f"{where}: too short ({size} bytes); an HMAC secret needs at least {MIN_SECRET_BYTES}"
        )


def _check_whsec(secret: str, where: str) -> None:
    key = whsec_key(secret)
    if key and len(key) < MIN_SECRET_BYTES:  # not base64 at all is refused where it is parsed
        raise ConfigError(
            f"{where}: key too short ({len(key)} bytes after base64 decoding); a Standard "
            f"Webhooks key needs at least {MIN_SECRET_BYTES} (whsec_ and 24+ base64 characters)"
        )


def check_secret_strength(settings: Settings) -> None:
    """Refuse any hook token, HMAC secret, `whsec_` key or API token that is too short; the
    error names its key path, such as `sources.vibegen.tokens[0]`."""
    # getattr: a provider's source may have no tokens or signatures to check.
    for name, source in settings.sources.items():
        where = f"sources.{name}"
        for token, at in _listed(getattr(source, "tokens", []), f"{where}.tokens"):
            _check_token(token, at)
        hmac_config = getattr(source, "hmac", None)
        if hmac_config is not None:
            for secret, at in _listed(hmac_config.secret, f"{where}.hmac.secret"):
                _check_hmac_secret(secret, at)
        webhooks = getattr(source, "standard_webhooks", None)
        if webhooks is not None:
            for secret, at in _listed(webhooks.secret, f"{where}.standard_webhooks.secret"):
                _check_whsec(secret, at)
    for i, api_token in enumerate(settings.api_tokens):
        _check_token(api_token.token, f"api_tokens[{i}].token ({api_token.name})")
