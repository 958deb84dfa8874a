"""The dashboard's navigation: one entry per page, in the order the header lists them."""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["NAV", "NavEntry"]


class NavEntry(NamedTuple):
    """A page in the header's navigation: its label and its path under /ui."""

    label: str
    path: str


# Adding a page: its controller in `vidhook.receiver.ui.PAGES` and its entry here.
NAV: list[NavEntry] = [
    NavEntry("Events", "/ui/events"),
    NavEntry("Deliveries", "/ui/deliveries"),
    NavEntry("Sinks", "/ui/sinks"),
    NavEntry("Tasks", "/ui/tasks"),
    NavEntry("Rules", "/ui/rules"),
    NavEntry("Usage", "/ui/usage"),
]
