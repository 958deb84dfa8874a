"""`/ui/rules`: the rules in force (name, when, sinks, stop, grouping, the file each came
from), and a form to try a pasted rule (TOML, `[[rules]]` tables) against the stored events of
a time window: which events it would have matched and which sinks would have fired. Nothing is
sent, so a `read` token may try rules too; the form still carries the CSRF token.

The trial is `vidhook rules test`'s (`vidhook.receiver.rules_trial`). A rule that does not read
is answered 400 with the message naming the field, never a 500.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency

from vidhook.receiver.errors import BadRequest, ConfigError
from vidhook.receiver.event_filter import build_filter
from vidhook.receiver.handler_parts import Clock, Sinks
from vidhook.receiver.rules_trial import RuleReport, rules_from_text, stored_for_trial, trial_rules
from vidhook.receiver.store import Store
from vidhook.receiver.ui.sessions import Viewer, check_csrf
from vidhook.receiver.ui.templating import page
from vidhook.routes.rules import Rule, RuleHolder

__all__ = ["RulesController", "Trial"]

MAX_EVENTS = 10_000
SHOWN = 20
MAX_RULE_TEXT = 20_000
EXAMPLE = '[[rules]]\nname = "failures"\nwhen = {{ status = "failed" }}\nsinks = ["{sink}"]\n'


class Trial(msgspec.Struct, kw_only=True):
    """The trial form as written, and what it found (or why it could not run)."""

    text: str = ""
    since: str = "7d"
    until: str = ""
    error: str = ""
    tested: int = 0
    unrouted: int = 0
    reports: list[RuleReport] = msgspec.field(default_factory=list)


def _field(form: Any, name: str, limit: int) -> str:
    value = form.get(name)
    text = value if isinstance(value, str) else ""
    if len(text) > limit:
        raise BadRequest(f"{name} is {len(text)} characters long; the limit is {limit}")
    return text


async def run_trial(store: Store, sinks_by_name: Sinks, clock: Clock, trial: Trial) -> None:
    """Try `trial.text` over the window; fill in its reports, or `error` saying what is wrong."""
    try:
        pasted = rules_from_text(trial.text, "pasted rule", set(sinks_by_name))
        if not pasted.rules:
            raise ConfigError("pasted rule: no rule: write at least one [[rules]] table")
        where = build_filter(
            now=clock(), since=trial.since.strip() or None,
            until=trial.until.strip() or None, labels={}, cursor=None,
        )  # fmt: skip
        hint = "narrow the time window"
        events = await stored_for_trial(store, where, MAX_EVENTS, hint=hint)
    except (ConfigError, BadRequest) as exc:
        trial.error = exc.message
        return
    trial.reports, trial.unrouted = trial_rules(pasted, events, SHOWN)
    trial.tested = len(events)


def _show(
    rules: RuleHolder,
    sinks_by_name: Sinks,
    clock: Clock,
    viewer: Viewer,
    trial: Trial,
    status: int = 200,
) -> Response[str]:
    loaded: list[Rule] = list(rules.current.rules)
    return page(
        "rules.html",
        status,
        viewer=viewer,
        title="Rules",
        rules=loaded,
        groupable=rules.current.groupable,
        trial=trial,
        example=EXAMPLE.format(sink=min(sinks_by_name, default="my-sink")),
        shown=SHOWN,
        now=clock(),
    )


class RulesController(Controller):
    """The rules page and its trial form."""

    path = "/rules"
    include_in_schema = False

    @get("/")
    async def rules(
        self,
        rules: NamedDependency[RuleHolder],
        sinks_by_name: NamedDependency[Sinks],
        clock: NamedDependency[Clock],
        viewer: NamedDependency[Viewer],
    ) -> Response[str]:
        """The rules in force, and an empty trial form."""
        return _show(rules, sinks_by_name, clock, viewer, Trial())

    @post("/try")
    async def try_rule(
        self,
        request: Request[Any, Any, Any],
        store: NamedDependency[Store],
        rules: NamedDependency[RuleHolder],
        sinks_by_name: NamedDependency[Sinks],
        clock: NamedDependency[Clock],
        viewer: NamedDependency[Viewer],
    ) -> Response[str]:
        """The page again, with what the pasted rule would have matched (400 when it does
        not read, the form kept as written)."""
        form = await request.form()
        check_csrf(viewer.csrf, form)
        trial = Trial(
            text=_field(form, "rule", MAX_RULE_TEXT),
            since=_field(form, "since", 64),
            until=_field(form, "until", 64),
        )
        await run_trial(store, sinks_by_name, clock, trial)
        return _show(rules, sinks_by_name, clock, viewer, trial, 400 if trial.error else 200)
