"""The parts handlers ask for: every handler gets what it names, and no request body has a
top-level field named as a part (Litestar would answer its validation errors with 500)."""

from __future__ import annotations

import typing

import msgspec

from tests.stored_events import CONFIG
from vidhook.receiver.app import create_app
from vidhook.receiver.config import parse_settings


def _fields(annotation: object) -> set[str]:
    """The top-level field names of a request body type (a Struct, or a union with one)."""
    names: set[str] = set()
    for kind in typing.get_args(annotation) or (annotation,):
        if isinstance(kind, type) and issubclass(kind, msgspec.Struct):
            names.update(kind.__struct_fields__)
    return names


def test_no_request_body_has_a_field_named_as_a_part(tmp_path):
    settings = parse_settings(f'[store]\nurl = "sqlite:///{tmp_path / "v.db"}"\n' + CONFIG, env={})
    app = create_app(settings)
    parts = set(app.dependencies)
    assert {"store", "clock", "sinks_by_name", "replayer"} <= parts
    bodies = 0
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            data = handler.parsed_fn_signature.parameters.get("data")
            if data is None:
                continue
            bodies += 1
            clash = _fields(data.annotation) & parts
            assert not clash, f"{handler}: body fields {clash} are named as parts"
    assert bodies >= 3  # replay, replay one, submit, watch at least
