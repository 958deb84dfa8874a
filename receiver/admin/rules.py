"""`/admin/rules/reload`: load the rules again from the config file and `rules_dir`."""

from __future__ import annotations

from litestar import Controller, post
from litestar.di import NamedDependency

from vidhook.receiver.admin.schemas import RulesReloaded
from vidhook.receiver.errors import ConfigError, UnreadablePayload
from vidhook.receiver.http_errors import errors
from vidhook.routes.rules import RuleHolder

__all__ = ["RulesController"]


class RulesController(Controller):
    """Rules reload, as SIGHUP does."""

    path = "/rules"
    tags = ["admin: rules"]

    @post(
        "/reload",
        opt={"scope": "admin"},
        status_code=200,
        summary="Reload the rules",
        responses=errors(422),
    )
    async def reload(self, rules: NamedDependency[RuleHolder]) -> RulesReloaded:
        """Put the rules on disk in force; if any file is invalid, answer 422 naming the file,
        rule and field, and keep the running rules. Scope: admin."""
        try:
            fresh = rules.reload()
        except ConfigError as exc:
            raise UnreadablePayload(
                f"rules not reloaded, the running rules stay: {exc.message}", code="invalid_rules"
            ) from None
        return RulesReloaded(rules=[rule.name for rule in fresh.rules])
