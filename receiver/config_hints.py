"""What a config error says: the key path and what is wrong, in a source's provider's terms,
plus the keys a table takes and the values an option takes, with the closest one to what was
written ("did you mean").

The config's shape comes from its Structs through `msgspec.inspect`, so a hint always
matches what the decoder accepts, provider options included (a source's table is the
Struct its `provider` picks).
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
import msgspec.inspect as mi

from vidhook.receiver.config_positions import KeyPath, split_path
from vidhook.receiver.providers import PROVIDER_NAMES, PROVIDERS
from vidhook.receiver.suggestions import did_you_mean

__all__ = ["choice_hint", "describe_error", "key_hint", "source_error"]


def _node(tree: Any, part: str | int) -> Any:
    if isinstance(tree, dict) and isinstance(part, str):
        return tree.get(part)
    if isinstance(tree, list) and isinstance(part, int) and part < len(tree):
        return tree[part]
    return None


def _narrow(info: mi.Type, value: Any) -> mi.Type:
    """A union without None; a tagged union of Structs as the member `value` names."""
    if not isinstance(info, mi.UnionType):
        return info
    types = [t for t in info.types if not isinstance(t, mi.NoneType)]
    structs = [t for t in types if isinstance(t, mi.StructType)]
    if len(structs) > 1 and isinstance(value, dict):
        for struct in structs:
            if struct.tag_field and value.get(struct.tag_field) == struct.tag:
                return struct
        return info
    return types[0] if len(types) == 1 else info


def type_at(root: type, path: KeyPath, tree: Any) -> mi.Type | None:
    """The type the decoder expects at `path` of the TOML tree, if it can be told."""
    info = _narrow(mi.type_info(root), tree)
    for part in path:
        tree = _node(tree, part)
        if isinstance(info, mi.StructType) and isinstance(part, str):
            field = next((f for f in info.fields if f.encode_name == part), None)
            if field is None:
                return None
            info = field.type
        elif isinstance(info, mi.DictType) and isinstance(part, str):
            info = info.value_type
        elif isinstance(info, mi.ListType) and isinstance(part, int):
            info = info.item_type
        else:
            return None
        info = _narrow(info, tree)
    return info


def key_hint(root: type, table: KeyPath, key: str, tree: Any) -> str:
    """For an unknown key of `table`: the closest valid key and all of them."""
    info = type_at(root, table, tree)
    if not isinstance(info, mi.StructType):
        return ""
    names = [field.encode_name for field in info.fields]
    return f"{did_you_mean(key, names)} (keys here: {', '.join(names)})"


def choice_hint(root: type, path: KeyPath, written: str, tree: Any) -> str:
    """For a value outside an option's choices: the closest choice and all of them."""
    info = type_at(root, path, tree)
    if not isinstance(info, mi.LiteralType | mi.EnumType):
        return ""
    values = [str(value) for value in _choices(info)]
    return f"{did_you_mean(written, values)} (one of: {', '.join(values)})"


def _choices(info: mi.Type) -> list[Any]:
    if isinstance(info, mi.LiteralType):
        return list(info.values)
    if isinstance(info, mi.EnumType):
        return [member.value for member in info.cls]
    return []


def source_error(
    root: type, source: object, exc: msgspec.ValidationError, where: str, tree: dict[str, Any]
) -> str:
    """A source's decoding error in its provider's terms: the valid provider names when
    `provider` is wrong, whose option a misplaced key is, which option is missing."""
    if not isinstance(source, dict):
        return describe_error(root, exc, where, tree)
    provider = source.get("provider")
    choices = f"one of {', '.join(PROVIDER_NAMES)}"
    if provider is None:
        return f"{where}.provider: missing; every source names its provider, {choices}"
    if not isinstance(provider, str) or provider not in PROVIDERS:
        close = did_you_mean(str(provider), PROVIDER_NAMES)
        tail = f" (use {choices})" if close else f"; use {choices}"
        return f"{where}.provider: unknown provider {provider!r}{close}{tail}"
    found = _SOURCE_KEY.fullmatch(str(exc))
    if found is None:
        return describe_error(root, exc, where, tree)
    key = found["key"]
    if found["missing"]:
        return f"{where}.{key}: missing; a source of provider {provider} needs it"
    owners = [name for name, p in PROVIDERS.items() if key in p.config.__struct_fields__]
    if owners:
        return (
            f"unknown key `{where}.{key}`: provider {provider} has no such option; `{key}` is"
            f" an option of {', '.join(owners)} sources"
        )
    return describe_error(root, exc, where, tree)


# An unknown or missing key of the source table itself (not of a table inside it).
_SOURCE_KEY = re.compile(
    r"Object (?:contains unknown field|(?P<missing>missing required field)) `(?P<key>[^`]*)`"
)


_MSGSPEC_ERROR = re.compile(r"(?P<what>.*?)(?: - at `\$(?P<path>[^`]*)`)?", re.DOTALL)
_UNKNOWN_KEY = re.compile(r"Object contains unknown field `(?P<key>[^`]*)`")
_BAD_CHOICE = re.compile(r"Invalid enum value (?P<value>.*)")


def describe_error(
    root: type, exc: msgspec.ValidationError, prefix: str, tree: dict[str, Any]
) -> str:
    """A decoding error of the config Struct `root` as `key.path: what is wrong`: an unknown
    key named in full with the closest valid one, a value outside an option's choices with
    the choices."""
    match = _MSGSPEC_ERROR.fullmatch(str(exc))
    what, path = (match["what"], match["path"] or "") if match else (str(exc), "")
    path = (prefix + path).lstrip(".")
    unknown = _UNKNOWN_KEY.fullmatch(what)
    if unknown:
        key = f"{path}.{unknown['key']}" if path else unknown["key"]
        hint = key_hint(root, split_path(path), unknown["key"], tree)
        return f"unknown key `{key}`{hint}; see `vidhook config example` for every option"
    choice = _BAD_CHOICE.fullmatch(what)
    if choice:
        written = choice["value"].strip("'\"")
        hint = choice_hint(root, split_path(path), written, tree)
        return f"{path}: {choice['value']} is not a valid choice{hint}"
    return f"{path}: {what}" if path else what
