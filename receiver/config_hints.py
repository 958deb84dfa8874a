"""What a config error can add: the keys a table takes and the values an option takes, with
the closest one to what was written ("did you mean").

The config's shape comes from its Structs through `msgspec.inspect`, so a hint always
matches what the decoder accepts, provider options included (a source's table is the
Struct its `provider` picks).
"""

from __future__ import annotations

from typing import Any

import msgspec.inspect as mi

from vidhook.receiver.config_positions import KeyPath
from vidhook.receiver.suggestions import did_you_mean

__all__ = ["choice_hint", "key_hint"]


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
