"""The `vidhook` command line's grammar: the top-level options, the options commands share,
and every subcommand (from the `parser_*` modules).

This module and the `parser_*` modules import nothing beyond the standard library, so
`vidhook --help` and shell completion stay fast; each subcommand names the function that
runs it as `module:function`, imported only when that command runs.
"""

from __future__ import annotations

import argparse
from typing import Any

from vidhook.receiver import __version__

__all__ = [
    "EXIT_CODES",
    "CommandParser",
    "add_common",
    "add_config_option",
    "add_filter_options",
    "add_paging",
    "build_parser",
    "command",
]

EXIT_CODES = {
    0: "ok",
    1: "failure (a delivery, a provider or the service answered with an error)",
    2: "usage: unknown command or option, bad value",
    3: "config: no config found, or the config is invalid",
    4: "not found: no such event, delivery, source, sink or rule",
    5: "store or service unreachable (or the listen port is in use)",
}

_EPILOG = """\
config discovery (every command, serve too):
  --config/-c FILE anywhere on the line, else $VIDHOOK_CONFIG, else ./vidhook.toml,
  else the embedded default's store ./vidhook.db if it exists. Only serve and migrate
  create a store; the other commands say where they looked. The read commands (events,
  show, deliveries, sinks, rejected) can ask a running service instead:
  --url URL (or $VIDHOOK_URL) with an API token in $VIDHOOK_TOKEN.

output: a table on a terminal (short ids: any unique prefix is accepted back), tab-separated
  lines when piped, JSON lines with --json.

exit codes:
{codes}

examples:
  vidhook serve                       run on ./vidhook.toml or the embedded default
  vidhook events --since 1h --status failed
  vidhook show 0193a4f2               an event by a unique id prefix
  vidhook config example > vidhook.toml
  eval "$(vidhook completion bash)"   tab completion (bash, zsh or fish)
"""

EventTypes = ("task.completed", "task.failed", "task.progress")
Statuses = ("pending", "processing", "completed", "failed", "cancelled", "expired")


class CommandParser(argparse.ArgumentParser):
    """An ArgumentParser whose help keeps the epilog's line breaks."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    from vidhook.receiver.cli import parser_archive, parser_operate, parser_service, parser_tasks

    codes = "\n".join(f"  {code}  {what}" for code, what in EXIT_CODES.items())
    parser = CommandParser(
        prog="vidhook",
        description="Callback endpoint and event router for AI video APIs.",
        epilog=_EPILOG.format(codes=codes),
    )
    parser.add_argument("--version", action="version", version=f"vidhook {__version__}")
    add_config_option(parser, top=True)
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=CommandParser
    )
    for module in (parser_service, parser_operate, parser_tasks, parser_archive):
        module.register(commands)
    return parser


def command(
    commands: Any, name: str, run: str, help: str, examples: list[str], **kwargs: Any
) -> argparse.ArgumentParser:
    """A subcommand with its help, its examples, and the `module:function` that runs it."""
    shown = "\n".join(f"  {line}" for line in examples)
    parser: argparse.ArgumentParser = commands.add_parser(
        name, help=help, description=kwargs.pop("description", help), epilog=f"examples:\n{shown}"
    )
    parser.set_defaults(run=run, **kwargs)
    return parser


def add_config_option(parser: argparse.ArgumentParser, *, top: bool = False) -> None:
    """`--config/-c FILE`, on the top parser and again on each subcommand, so it may stand
    before or after the subcommand (a subcommand's own default must not hide the top one)."""
    parser.add_argument(
        "--config",
        "-c",
        metavar="FILE",
        default=None if top else argparse.SUPPRESS,
        help="config file (default: $VIDHOOK_CONFIG, ./vidhook.toml, ./vidhook.db)",
    )


def add_common(parser: argparse.ArgumentParser, *, url: bool = False) -> None:
    """`--config`, `--json`, and for the read commands `--url`."""
    add_config_option(parser)
    parser.add_argument("--json", action="store_true", help="print JSON lines")
    if url:
        parser.add_argument(
            "--url",
            metavar="URL",
            help="ask a running vidhook's admin API instead of opening the store "
            "(default: $VIDHOOK_URL; token: $VIDHOOK_TOKEN)",
        )


def add_paging(parser: argparse.ArgumentParser) -> None:
    """`--limit` and `--cursor`."""
    parser.add_argument("--limit", type=int, default=50, help="page size (default 50)")
    parser.add_argument("--cursor", help="the next-page cursor a previous listing printed")


def add_filter_options(parser: argparse.ArgumentParser) -> None:
    """The event filters every event command takes, as in `GET /admin/events`."""
    group = parser.add_argument_group("filters")
    group.add_argument("--since", help="received at or after: RFC 3339 or an age (30m, 12h, 7d)")
    group.add_argument("--until", help="received before: RFC 3339 or an age")
    group.add_argument("--source", help="source name")
    group.add_argument("--provider", help="provider name")
    group.add_argument("--type", choices=EventTypes, dest="event_type", help="event type")
    group.add_argument("--status", choices=Statuses, help="task status")
    group.add_argument("--task-id", help="the provider's task id")
    group.add_argument("--model", help="model name")
    group.add_argument(
        "--label", action="append", metavar="KEY=VALUE", help="label filter (repeatable)"
    )
    group.add_argument("--sink", metavar="SINK", help="events routed to SINK")
