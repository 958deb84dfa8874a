"""Where each key of a TOML file is written: line and column by key path, so a config error
found after decoding (by msgspec, or by vidhook's own checks) can point into the file.

tomllib keeps no positions and tomlkit's document model exposes none either, so this is a
small scanner over text tomllib has already accepted: it follows tables, arrays of tables,
dotted keys, inline tables and arrays, and steps over strings and comments.
"""

from __future__ import annotations

import bisect
import contextlib
import re
import tomllib
from pathlib import Path

__all__ = [
    "KeyPath",
    "key_positions",
    "locate",
    "split_path",
    "with_file_position",
    "with_position",
]

KeyPath = tuple[str | int, ...]
Position = tuple[int, int]

_BARE = re.compile(r"[A-Za-z0-9_-]+")
_PATH_PART = re.compile(r'\.?(?:"(?P<quoted>[^"]*)"|(?P<bare>[A-Za-z0-9_-]+)|\[(?P<index>\d+)\])')


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0
        self.positions: dict[KeyPath, Position] = {}
        self._line_starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def position(self, offset: int) -> Position:
        """1-based line and column of an offset."""
        line = bisect.bisect_right(self._line_starts, offset) - 1
        return line + 1, offset - self._line_starts[line] + 1

    def peek(self, ahead: int = 0) -> str:
        at = self.i + ahead
        return self.text[at] if at < len(self.text) else ""

    def skip_space(self, *, newlines: bool) -> None:
        while self.i < len(self.text):
            char = self.text[self.i]
            if char in " \t\r" or (newlines and char == "\n"):
                self.i += 1
            elif char == "#":
                end = self.text.find("\n", self.i)
                self.i = len(self.text) if end < 0 else end
            else:
                return

    def key(self) -> list[str]:
        """A dotted key: bare or quoted parts separated by dots."""
        parts = []
        while True:
            self.skip_space(newlines=False)
            if self.peek() in ('"', "'"):
                start = self.i
                self.string()
                parts.append(self.text[start + 1 : self.i - 1])
            else:
                found = _BARE.match(self.text, self.i)
                if not found:
                    raise ValueError("no key")
                parts.append(found.group())
                self.i = found.end()
            self.skip_space(newlines=False)
            if self.peek() != ".":
                return parts
            self.i += 1

    def string(self) -> None:
        quote = self.peek()
        triple = self.text.startswith(quote * 3, self.i)
        delimiter = quote * 3 if triple else quote
        self.i += len(delimiter)
        while self.i < len(self.text):
            if quote == '"' and self.peek() == "\\":
                self.i += 2
                continue
            if self.text.startswith(delimiter, self.i):
                self.i += len(delimiter)
                while triple and self.peek() == quote:  # """a"""" ends with a quote inside
                    self.i += 1
                return
            self.i += 1

    def value(self, path: KeyPath) -> None:
        char = self.peek()
        if char in ('"', "'"):
            self.string()
        elif char == "[":
            self.i += 1
            self.items(path, "]", keyed=False)
        elif char == "{":
            self.i += 1
            self.items(path, "}", keyed=True)
        else:
            while self.i < len(self.text) and self.peek() not in ",]}\n#":
                self.i += 1

    def items(self, path: KeyPath, close: str, *, keyed: bool) -> None:
        """The members of an array or an inline table, each recorded under its path."""
        index = 0
        while self.i < len(self.text):
            self.skip_space(newlines=True)
            if self.peek() == close:
                self.i += 1
                return
            start = self.i
            if keyed:
                member: KeyPath = path + tuple(self.key())
                self.skip_space(newlines=False)
                self.i += 1  # "="
                self.skip_space(newlines=False)
            else:
                member = (*path, index)
            self.positions.setdefault(member, self.position(start))
            self.value(member)
            self.skip_space(newlines=True)
            if self.peek() == ",":
                self.i += 1
                index += 1

    def document(self) -> None:
        table: KeyPath = ()
        counts: dict[KeyPath, int] = {}
        while True:
            self.skip_space(newlines=True)
            if self.i >= len(self.text):
                return
            start = self.i
            if self.peek() == "[":
                double = self.peek(1) == "["
                self.i += 2 if double else 1
                name = tuple(self.key())
                self.i += 2 if double else 1
                if double:
                    counts[name] = counts.get(name, 0) + 1
                    table = (*name, counts[name] - 1)
                else:
                    table = name
                self.positions.setdefault(name, self.position(start))
                self.positions.setdefault(table, self.position(start))
                continue
            path = table + tuple(self.key())
            self.positions.setdefault(path, self.position(start))
            self.skip_space(newlines=False)
            self.i += 1  # "="
            self.skip_space(newlines=False)
            self.value(path)


def key_positions(text: str) -> dict[KeyPath, Position]:
    """Each key path of the TOML text (tables, keys, array items) and where it starts."""
    scanner = _Scanner(text)
    with contextlib.suppress(ValueError, IndexError):
        scanner.document()  # on a surprise, keep what was found before it
    return scanner.positions


def split_path(written: str) -> KeyPath:
    """`sources.a.tokens[1]` as ("sources", "a", "tokens", 1)."""
    parts: list[str | int] = []
    for found in _PATH_PART.finditer(written):
        if found["index"] is not None:
            parts.append(int(found["index"]))
        else:
            parts.append(found["quoted"] if found["quoted"] is not None else found["bare"])
    return tuple(parts)


def locate(text: str, path: KeyPath) -> Position | None:
    """Where `path` is written, or its nearest written parent (a missing key: its table)."""
    positions = key_positions(text)
    for length in range(len(path), 0, -1):
        found = positions.get(path[:length])
        if found:
            return found
    return None


# The key path a config error names right after the file: `unknown key `a.b``, `a.b[0]: ...`,
# `$.a.b: ...` (an environment variable), or `rule "name": key: ...`.
_NAMED_KEY = re.compile(r"unknown key `(?P<key>[^`]+)`")
_NAMED_PATH = re.compile(r"\$?\.?(?P<path>[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_\"-]+|\[\d+\])*):")
_NAMED_RULE = re.compile(r'rule "(?P<rule>[^"]*)": (?:(?P<key>[a-z_]+)[.:\[ ])?')


def _rule_path(text: str, rule: str, key: str | None) -> KeyPath:
    """The path of a rule named `rule` in the [[rules]] of the text (and its `key`)."""
    try:
        rules = tomllib.loads(text).get("rules", [])
    except tomllib.TOMLDecodeError:
        return ()
    for index, item in enumerate(rules if isinstance(rules, list) else []):
        if isinstance(item, dict) and item.get("name") == rule:
            return ("rules", index, key) if key else ("rules", index)
    return ("rules",)


def with_position(message: str, origin: str, text: str) -> str:
    """A config error about the file `origin` with the line and column of the key it names
    (of its table when the key is missing), as tomllib reports syntax errors."""
    prefix = f"{origin}: "
    if not message.startswith(prefix) or "(at line " in message:
        return message
    rest = message.removeprefix(prefix)
    path: KeyPath = ()
    if found := _NAMED_KEY.match(rest):
        path = split_path(found["key"])
    elif found := _NAMED_RULE.match(rest):
        path = _rule_path(text, found["rule"], found["key"])
    elif found := _NAMED_PATH.match(rest):
        path = split_path(found["path"])
    where = locate(text, path) if path else None
    if where is None:
        return message
    return f"{message} (at line {where[0]}, column {where[1]})"


def with_file_position(message: str) -> str:
    """`with_position` for an error that starts with the name of a readable TOML file."""
    origin = message.split(": ", 1)[0]
    if not origin.endswith(".toml"):
        return message
    try:
        text = Path(origin).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return message
    return with_position(message, origin, text)
