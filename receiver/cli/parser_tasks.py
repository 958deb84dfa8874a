"""The grammar of `submit`, `watch`, `tasks` and `simulate`."""

from __future__ import annotations

import argparse
from typing import Any

from vidhook.receiver.cli.parser import add_common, add_config_option, command

__all__ = ["register"]


def register(commands: Any) -> None:
    """Add this module's subcommands."""
    submit = command(
        commands, "submit", "tasks:run_submit",
        "create a task at a source's provider, with vidhook as its callback_url",
        [
            "vidhook submit vibegen body.json --label team=growth",
            "echo '{\"prompt\": \"a cat\"}' | vidhook submit vibegen -",
        ],
    )  # fmt: skip
    add_config_option(submit)
    submit.add_argument("source", metavar="SOURCE", help="the source whose provider runs the task")
    submit.add_argument(
        "file", metavar="FILE", help="the provider's own create body, as JSON ('-': stdin)"
    )
    _add_label_options(submit)

    watch = command(
        commands, "watch", "tasks:run_watch", "poll a task created elsewhere until it ends",
        ["vidhook watch seedanceapi task-123 --label team=growth"],
    )  # fmt: skip
    add_config_option(watch)
    watch.add_argument("source", metavar="SOURCE", help="the source the task belongs to")
    watch.add_argument("task_id", metavar="TASK_ID", help="the provider's task id")
    _add_label_options(watch)

    tasks = command(
        commands, "tasks", "task_list:run_tasks",
        "tasks vidhook knows, most recently changed first",
        ["vidhook tasks --overdue", "vidhook tasks --state polling --source evolink"],
    )  # fmt: skip
    add_common(tasks)
    tasks.add_argument("--source", metavar="SOURCE", help="tasks of SOURCE")
    which = tasks.add_mutually_exclusive_group()
    which.add_argument(
        "--state", choices=("open", "done", "overdue", "polling"), help="tasks in this state"
    )
    which.add_argument(
        "--overdue",
        action="store_true",
        help="open tasks whose callback is later than callback_grace (--state overdue)",
    )
    tasks.add_argument("--limit", type=int, default=100, help="at most this many (default 100)")

    simulate = command(
        commands, "simulate", "simulating:run_simulate",
        "send a provider's realistic callback to a running vidhook",
        ["vidhook simulate vibegen", "vidhook simulate evolink --status failed --url http://h:8080"],
    )  # fmt: skip
    add_config_option(simulate)
    simulate.add_argument("provider", metavar="PROVIDER", help="a provider name, e.g. vibegen")
    simulate.add_argument(
        "--status", choices=("completed", "failed"), default="completed", help="the task's end"
    )
    simulate.add_argument("--source", help="which source of PROVIDER (when there are several)")
    simulate.add_argument(
        "--url", help="the running vidhook's base URL (default: server.public_url)"
    )


def _add_label_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--label",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a label for the task's events (repeat for more)",
    )
    parser.add_argument("--end-user-id", help="the end user the task is for (a label)")
