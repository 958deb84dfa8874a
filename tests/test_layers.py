"""Every module of vidhook has a place in the layers that `lint-imports` keeps, so a new module
cannot slip past the contract by being named in none of them."""

from __future__ import annotations

import tomllib
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent


def _layered() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    [layers] = [c for c in config["tool"]["importlinter"]["contracts"] if c["type"] == "layers"]
    names: list[str] = []
    for layer in layers["layers"]:
        names += [part.strip() for part in layer.replace("|", ":").split(":") if part.strip()]
    return names


def test_every_module_is_in_a_layer():
    layered = _layered()
    graph = grimp.build_graph("vidhook")
    # Package __init__ modules that only hold the version or re-export are not layers.
    containers = {"vidhook", "vidhook.receiver", "vidhook.routes"}
    unplaced = sorted(
        module
        for module in graph.modules
        if module not in containers
        and not any(module == name or module.startswith(f"{name}.") for name in layered)
    )
    assert unplaced == [], f"add these to a layer in pyproject.toml: {unplaced}"
