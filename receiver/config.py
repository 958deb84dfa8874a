"""vidhook's configuration: one TOML file decoded into Structs, `${ENV}` for secrets."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal

import msgspec

from vidhook.receiver.archive_config import ArchiveConfig, S3Config
from vidhook.receiver.config_hints import describe_error, source_error
from vidhook.receiver.config_positions import with_position
from vidhook.receiver.digest_config import DigestConfig
from vidhook.receiver.durations import parse_duration as text_duration
from vidhook.receiver.durations import source_durations
from vidhook.receiver.errors import BadRequest, ConfigError
from vidhook.receiver.identifiers import MAX_NAME, check_labels
from vidhook.receiver.pricing import PricingConfig
from vidhook.receiver.providers import PROVIDER_NAMES, PROVIDERS, ProviderName, SourceConfig
from vidhook.receiver.providers.source_config import (
    ConfigStruct,
    HmacConfig,
    StandardWebhooksConfig,
)
from vidhook.receiver.secret_strength import check_secret_strength

__all__ = [
    "PROVIDER_NAMES",
    "ApiToken",
    "ArchiveConfig",
    "HmacConfig",
    "LogConfig",
    "ProviderName",
    "RuleConfig",
    "S3Config",
    "ServerConfig",
    "Settings",
    "SourceConfig",
    "StandardWebhooksConfig",
    "StoreConfig",
    "check_polled_sources",
    "expand_env",
    "load_settings",
    "parse_duration",
    "parse_settings",
    "trusted_proxies_for",
    "unrecoverable_callbacks",
]

Scope = Literal["read", "admin", "submit"]
_Config = ConfigStruct


class ServerConfig(_Config):
    """How vidhook listens and the public address providers reach it at."""

    public_url: str = "http://127.0.0.1:8080"
    host: str = "0.0.0.0"  # noqa: S104 - a callback endpoint is meant to be reachable
    port: int = 8080
    max_body_bytes: int = 1_048_576
    max_json_depth: int = 64
    rejected_log_size: int = 1000
    max_replay_events: int = 10_000  # the most events one replay call may touch
    # Proxies whose X-Forwarded-For is believed, for every source that names none of its own:
    # pin the proxy's own address (a /32), not the network it sits on.
    trusted_proxies: list[str] = []
    internal_host: str = "127.0.0.1"
    internal_port: int | None = None  # set: admin, metrics, schema and submit only listen here
    max_header_bytes: int = 65_536  # request line and headers; more is answered 431
    header_timeout: float | str = 10.0  # from a request's first byte to its last header
    body_timeout: float | str = 30.0  # from a request's last header to its last body byte
    keepalive_timeout: float | str = 5.0  # an idle connection between requests
    max_connections: int = 900  # per listener; past it a new connection is answered 503

    def __post_init__(self) -> None:
        for key in ("header_timeout", "body_timeout", "keepalive_timeout"):
            setattr(self, key, parse_duration(key, getattr(self, key)))
        for key in ("max_header_bytes", "max_connections"):
            if getattr(self, key) < 1:
                raise ValueError(f"{key}: must be above 0")

    def seconds(self, key: Literal["header_timeout", "body_timeout", "keepalive_timeout"]) -> float:
        """A duration key in seconds (`__post_init__` has turned strings such as "30s" into
        numbers)."""
        return float(getattr(self, key))


def parse_duration(key: str, value: float | str) -> float:
    """A duration in seconds from a number of seconds or a string such as "30s", "500ms", "2m"."""
    if isinstance(value, str):
        try:
            value = text_duration(value)
        except ValueError as exc:
            raise ValueError(f"{key}: {exc}") from None
    if value <= 0:
        raise ValueError(f"{key}: must be above 0")
    return float(value)


class StoreConfig(_Config):
    """Where events live."""

    url: str = "sqlite:///vidhook.db"
    retention_days: int = 30


class ApiToken(_Config):
    """A bearer token for the admin and submit APIs."""

    name: str
    token: str
    scopes: list[Scope] = msgspec.field(default_factory=lambda: ["read"])


class RuleConfig(_Config):
    """A routing rule as written in TOML: when the filter matches, send to the sinks.

    `group_by` (event field paths) batches what the rule sends to slack and email sinks, as
    Alertmanager does; `group_wait` and `group_interval` are durations (see routes/grouping.py).
    """

    name: str
    sinks: list[str]
    when: dict[str, Any] | None = None
    stop: bool = False
    group_by: list[str] | None = None
    group_wait: float | str | None = None
    group_interval: float | str | None = None


class LogConfig(_Config):
    """Logging level and format (`auto`: readable in a terminal, JSON otherwise)."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "json", "console"] = "auto"


class Settings(_Config):
    """The whole configuration."""

    server: ServerConfig = msgspec.field(default_factory=ServerConfig)
    store: StoreConfig = msgspec.field(default_factory=StoreConfig)
    log: LogConfig = msgspec.field(default_factory=LogConfig)
    api_tokens: list[ApiToken] = []
    sources: dict[str, SourceConfig] = {}
    sinks: dict[str, dict[str, Any]] = {}
    rules: list[RuleConfig] = []
    rules_dir: str | None = None
    archive: ArchiveConfig | None = None  # no [archive]: videos are not kept
    pricing: PricingConfig = msgspec.field(default_factory=PricingConfig)
    digests: list[DigestConfig] = []


_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def expand_env(value: Any, env: dict[str, str], path: str = "$") -> Any:
    """Replace `${NAME}` in every string of a decoded TOML tree with the environment's value."""
    if isinstance(value, str):

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in env:
                raise ConfigError(f"{path}: environment variable {name} is not set")
            return env[name]

        return _ENV_REF.sub(substitute, value)
    if isinstance(value, dict):
        return {k: expand_env(v, env, f"{path}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [expand_env(v, env, f"{path}[{i}]") for i, v in enumerate(value)]
    return value


def parse_settings(
    text: str, *, origin: str = "<config>", env: dict[str, str] | None = None
) -> Settings:
    """Decode TOML text into Settings, naming the file and key path of any error."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{origin}: not valid TOML: {exc}") from None
    try:
        try:
            expanded = source_durations(expand_env(raw, dict(os.environ) if env is None else env))
        except ConfigError as exc:
            raise ConfigError(f"{origin}: {exc.message}") from None
        settings = _decode(expanded, origin)
        _check_sources(settings, origin)
    except ConfigError as exc:
        raise ConfigError(with_position(exc.message, origin, text)) from None
    return settings


def _decode(tree: dict[str, Any], origin: str) -> Settings:
    """Settings from the expanded TOML tree; an error names the full key path."""
    try:
        return msgspec.convert(tree, Settings)
    except msgspec.ValidationError as exc:
        error = exc
    # msgspec writes any key of a table such as [sources] as `sources[...]`; decoding each
    # source alone finds the name.
    sources = tree.get("sources")
    if isinstance(sources, dict):
        for name, value in sources.items():
            try:
                msgspec.convert(value, SourceConfig)
            except msgspec.ValidationError as exc:
                message = source_error(Settings, value, exc, f"sources.{name}", tree)
                raise ConfigError(f"{origin}: {message}") from None
    raise ConfigError(f"{origin}: {describe_error(Settings, error, '', tree)}") from None


def _check_sources(settings: Settings, origin: str) -> None:
    for name, source in settings.sources.items():
        where = f"{origin}: sources.{name}"
        if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", name):
            raise ConfigError(
                f"{where}: a source name may hold only letters, digits, '-', '_', '.'"
            )
        try:
            check_labels(source.labels)
        except BadRequest as exc:
            raise ConfigError(f"{where}: {exc.message}") from None
        _check_provider_api(source, where)
    for token in settings.api_tokens:
        if not 0 < len(token.name) <= MAX_NAME:
            raise ConfigError(
                f"{origin}: api_tokens: a token name must be 1-{MAX_NAME} characters, not"
                f" {len(token.name)}"
            )
    try:
        check_secret_strength(settings)
    except ConfigError as exc:
        raise ConfigError(f"{origin}: {exc.message}") from None


def _check_provider_api(source: SourceConfig, where: str) -> None:
    """A source that confirms callbacks must be able to read tasks from its provider."""
    for field in ("poll_interval", "poll_timeout", "max_polls_in_flight"):
        if getattr(source, field) <= 0:
            raise ConfigError(f"{where}.{field}: must be above 0")
    if not source.callback_grace >= 0:  # written so, it refuses nan too
        raise ConfigError(f"{where}.callback_grace: must be 0 or more")
    if source.queries_per_minute is not None and not source.queries_per_minute > 0:
        raise ConfigError(f"{where}.queries_per_minute: must be above 0")
    if not source.confirm:
        return
    if PROVIDERS[source.provider].task_api is None:
        raise ConfigError(
            f"{where}.confirm: a {source.provider} source has no task API to confirm callbacks with"
        )
    _require_task_api(source, where, f"confirm = true reads each task back from {source.provider}")


def check_polled_sources(settings: Settings, origin: str = "<config>") -> None:
    """Refuse a source of a provider that never calls back when vidhook cannot poll it.

    `vidhook check` holds a config to this; the server itself runs such a source, idle (the
    embedded default has one of each provider and no keys).
    """
    for name, source in settings.sources.items():
        if not PROVIDERS[source.provider].calls_back:
            why = f"{source.provider} never calls back, so vidhook polls its tasks"
            _require_task_api(source, f"{origin}: sources.{name}", why)


def unrecoverable_callbacks(settings: Settings) -> list[str]:
    """Warnings for sources whose lost callbacks vidhook cannot recover: the provider calls
    back, but vidhook cannot read its tasks (no task API, no `api_key` or no `base_url`), so
    the safety net that polls a task whose callback did not come cannot run."""
    warnings = []
    for name, source in settings.sources.items():
        provider = PROVIDERS[source.provider]
        if not provider.calls_back:
            continue
        if provider.task_api is None:
            missing = f"{source.provider} has no task API to poll"
        elif source.api_key is None:
            missing = "it has no api_key"
        elif provider.needs_base_url and not source.base_url:
            missing = "it has no base_url"
        else:
            continue
        warnings.append(
            f"sources.{name}: a lost callback cannot be recovered, because {missing}; vidhook"
            " polls a task whose callback has not come within callback_grace only with the"
            " provider's API key"
        )
    return warnings


def _require_task_api(source: SourceConfig, where: str, why: str) -> None:
    if source.api_key is None:
        raise ConfigError(f"{where}.api_key: {why}, which needs the provider's API key")
    if PROVIDERS[source.provider].needs_base_url and not source.base_url:
        raise ConfigError(
            f"{where}.base_url: {why}, and {source.provider} has no public address; set it"
        )


def trusted_proxies_for(server: ServerConfig, source: SourceConfig) -> list[str]:
    """The proxies a source believes: its own `trusted_proxies` when set, else the server's."""
    return server.trusted_proxies if source.trusted_proxies is None else source.trusted_proxies


def load_settings(path: str | Path, env: dict[str, str] | None = None) -> Settings:
    """Read and decode a config file."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read: {exc.strerror}") from None
    return parse_settings(text, origin=str(file), env=env)
