"""Routing rules: which sinks each event goes to, as data plus one pure match.

Rules come from the main config's `[[rules]]` and from every `*.toml` under `rules_dir`, in
that order (the directory's files sorted by name). Every matching rule fires, in order; a rule
with `stop = true` ends matching once it has matched; each sink is named at most once per
routing, for the first rule that names it. A rule with `stop = true` and no sinks drops the
events it matches.
"""

from __future__ import annotations

import threading
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from vidhook.receiver.config import RuleConfig, Settings
from vidhook.receiver.errors import ConfigError
from vidhook.receiver.event import Event
from vidhook.receiver.identifiers import MAX_RULE_NAME
from vidhook.receiver.store.records import GroupJoin, Routes
from vidhook.receiver.suggestions import did_you_mean
from vidhook.routes.filter import Filter, compile_filter
from vidhook.routes.grouping import GROUPABLE_TYPES, Grouping, build_grouping

__all__ = [
    "Rule",
    "RuleHolder",
    "RuleSet",
    "build_rule",
    "groupable_sinks",
    "load_rules",
    "parse_rules_text",
]


@dataclass(frozen=True, slots=True)
class Rule:
    """One routing rule: when `filter` matches (None matches every event), send to `sinks`,
    batching what goes to slack and email sinks when it has a `grouping`."""

    name: str
    sinks: tuple[str, ...]
    filter: Filter | None = None
    stop: bool = False
    origin: str = ""
    grouping: Grouping | None = None

    def matches(self, doc: Mapping[str, Any]) -> bool:
        """Whether the event, in its builtins form, is one this rule is for."""
        return self.filter is None or self.filter.matches(doc)


@dataclass(frozen=True, slots=True)
class RuleSet:
    """The rules in force, in matching order; `groupable` names the sinks a rule's grouping
    applies to (the slack and email ones)."""

    rules: tuple[Rule, ...] = ()
    groupable: frozenset[str] = frozenset()

    def matched(self, event: Event) -> list[Rule]:
        """The rules that fire for an event, in order, honouring `stop`."""
        return self._fired(msgspec.to_builtins(event))

    def _fired(self, doc: Mapping[str, Any]) -> list[Rule]:
        fired: list[Rule] = []
        for rule in self.rules:
            if rule.matches(doc):
                fired.append(rule)
                if rule.stop:
                    break
        return fired

    def route(self, event: Event) -> list[tuple[str, str]]:
        """(rule name, sink name) pairs for an event; each sink once, for its first rule."""
        pairs: list[tuple[str, str]] = []
        seen: set[str] = set()
        for rule in self.matched(event):
            for sink in rule.sinks:
                if sink not in seen:
                    seen.add(sink)
                    pairs.append((rule.name, sink))
        return pairs

    def plan(self, event: Event) -> Routes:
        """Where an event goes on ingest: as `route`, except that a grouped rule's slack and
        email sinks get a group join instead of a (rule, sink) pair."""
        if not self.rules:  # stored, sent nowhere: no need to turn the event into a document
            return Routes([], [])
        doc = msgspec.to_builtins(event)
        pairs: list[tuple[str, str]] = []
        joins: list[GroupJoin] = []
        seen: set[str] = set()
        for rule in self._fired(doc):
            for sink in rule.sinks:
                if sink in seen:
                    continue
                seen.add(sink)
                grouping = rule.grouping
                if grouping is None or sink not in self.groupable:
                    pairs.append((rule.name, sink))
                    continue
                key = grouping.key(doc)
                every = grouping.interval
                joins.append(
                    GroupJoin(rule=rule.name, sink=sink, key=key, wait=grouping.wait, every=every)
                )
        return Routes(pairs, joins)

    def describe(self) -> str:
        """The rules as a readable list, for `vidhook check`."""
        if not self.rules:
            return "no rules: events are stored but delivered nowhere"
        lines: list[str] = []
        for number, rule in enumerate(self.rules, 1):
            lines.append(f"{number}. {rule.name}  ({rule.origin})")
            when = "every event" if rule.filter is None else rule.filter.describe()
            lines.append(f"     when  {when}")
            sinks = ", ".join(rule.sinks) or "(none: drop)"
            lines.append(f"     sinks {sinks}" + ("  then stop" if rule.stop else ""))
            if rule.grouping is not None:
                grouped = [s for s in rule.sinks if s in self.groupable]
                lines.append(f"     group {rule.grouping.describe()}")
                lines.append(f"           grouped sinks: {', '.join(grouped) or '(none)'}")
        return "\n".join(lines)

    def __len__(self) -> int:
        return len(self.rules)


def build_rule(config: RuleConfig, *, origin: str, known_sinks: Iterable[str]) -> Rule:
    """Check one written rule against the configured sinks and compile its filter."""
    if not config.name.strip():
        raise ConfigError(f"{origin}: a rule has an empty name")
    if len(config.name) > MAX_RULE_NAME:
        raise ConfigError(
            f'{origin}: rule "{config.name[:64]}...": the name is {len(config.name)} characters'
            f" long; the limit is {MAX_RULE_NAME}"
        )
    where = f'{origin}: rule "{config.name}"'
    known = set(known_sinks)
    for sink in config.sinks:
        if sink not in known:
            listed = ", ".join(sorted(known)) or "none configured"
            close = did_you_mean(sink, known)
            raise ConfigError(f'{where}: sinks: unknown sink "{sink}"{close} (known: {listed})')
    if not config.sinks and not config.stop:
        raise ConfigError(f"{where}: sinks: empty; a rule without sinks needs stop = true")
    try:
        compiled = None if config.when is None else compile_filter(config.when)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc.message}") from None
    return Rule(
        name=config.name,
        sinks=tuple(dict.fromkeys(config.sinks)),
        filter=compiled,
        stop=config.stop,
        origin=origin,
        grouping=build_grouping(config, where),
    )


def parse_rules_text(text: str, *, origin: str) -> list[RuleConfig]:
    """Decode a rules file: only `[[rules]]` tables, each with no unknown keys."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{origin}: not valid TOML: {exc}") from None
    extra = sorted(set(raw) - {"rules"})
    if extra:
        raise ConfigError(f"{origin}: unknown key {extra[0]!r}; a rules file holds [[rules]] only")
    tables = raw.get("rules", [])
    if not isinstance(tables, list):
        raise ConfigError(f"{origin}: rules: write each rule as a [[rules]] table")
    return [_decode_rule(table, origin, index) for index, table in enumerate(tables)]


def _decode_rule(table: Any, origin: str, index: int) -> RuleConfig:
    name = table.get("name") if isinstance(table, dict) else None
    label = f'rule "{name}"' if isinstance(name, str) else f"rules[{index}]"
    try:
        return msgspec.convert(table, RuleConfig)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{origin}: {label}: {exc}") from None


def load_rules(settings: Settings, *, config_origin: str, known_sinks: set[str]) -> RuleSet:
    """All rules in force: the main config's, then each `rules_dir` file's, checked and compiled."""
    written = [(config_origin, config) for config in settings.rules]
    if settings.rules_dir is not None:
        written += _read_rules_dir(Path(settings.rules_dir))
    rules: list[Rule] = []
    first_seen: dict[str, str] = {}
    for origin, config in written:
        rule = build_rule(config, origin=origin, known_sinks=known_sinks)
        if rule.name in first_seen:
            raise ConfigError(
                f'{origin}: rule "{rule.name}": duplicate name (also in {first_seen[rule.name]})'
            )
        first_seen[rule.name] = origin
        rules.append(rule)
    return RuleSet(tuple(rules), groupable_sinks(settings.sinks, known_sinks))


def groupable_sinks(sinks: Mapping[str, Mapping[str, Any]], known: Iterable[str]) -> frozenset[str]:
    """The names of the configured sinks whose type a rule's grouping applies to."""
    names = set(known)
    return frozenset(
        name for name, raw in sinks.items() if name in names and raw.get("type") in GROUPABLE_TYPES
    )


def _read_rules_dir(directory: Path) -> list[tuple[str, RuleConfig]]:
    if not directory.is_dir():
        raise ConfigError(f"rules_dir: {directory} is not a directory")
    written: list[tuple[str, RuleConfig]] = []
    files = sorted(directory.glob("*.toml"), key=lambda file: file.name)
    for file in files:
        if file.name.startswith(".") or not file.is_file():
            continue
        origin = str(file)
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{origin}: cannot read: {exc}") from None
        written += [(origin, config) for config in parse_rules_text(text, origin=origin)]
    return written


class RuleHolder:
    """The RuleSet in force, swapped whole on reload; a failed reload keeps the running rules.

    The loader is supplied by the caller (SIGHUP handler, admin API), so this holder knows
    nothing of files.
    """

    def __init__(self, loader: Callable[[], RuleSet], initial: RuleSet | None = None) -> None:
        self._loader = loader
        self._lock = threading.Lock()
        self._current = loader() if initial is None else initial

    @property
    def current(self) -> RuleSet:
        """The rules in force now."""
        return self._current

    def reload(self) -> RuleSet:
        """Load the rules again and put them in force; on ConfigError keep the old and re-raise."""
        with self._lock:
            fresh = self._loader()
            self._current = fresh
            return fresh
