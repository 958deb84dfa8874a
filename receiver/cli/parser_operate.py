"""The grammar of the operating commands: `events`, `show`, `deliveries`, `retry`, `sinks`,
`rejected`, `replay`, `rules test` and `usage`."""

from __future__ import annotations

from typing import Any

from vidhook.receiver.cli.parser import (
    CommandParser,
    add_common,
    add_filter_options,
    add_paging,
    command,
)

__all__ = ["DELIVERY_STATES", "register"]

DELIVERY_STATES = ("pending", "held", "delivered", "dead", "rejected")


def register(commands: Any) -> None:
    """Add the operating subcommands."""
    events = command(
        commands, "events", "operate:run_events", "list stored events, newest first",
        [
            "vidhook events --since 1h",
            "vidhook events --source vibegen --status failed --label team=growth",
            "vidhook events --json | jq .event.id",
            "vidhook events --url http://vidhook:8080     # with VIDHOOK_TOKEN set",
        ],
    )  # fmt: skip
    add_common(events, url=True)
    add_filter_options(events)
    add_paging(events)

    show = command(
        commands, "show", "operate:run_show", "show one event with its raw request and history",
        ["vidhook show 0193a4f2", "vidhook show 0193a4f2 --json"],
    )  # fmt: skip
    add_common(show, url=True)
    show.add_argument("event_id", metavar="ID", help="an event id, or a unique prefix of one")

    deliveries = command(
        commands, "deliveries", "operate:run_deliveries", "list deliveries, newest first",
        ["vidhook deliveries --state dead", "vidhook deliveries --sink slack --limit 10"],
    )  # fmt: skip
    add_common(deliveries, url=True)
    deliveries.add_argument("--state", choices=DELIVERY_STATES, help="delivery state")
    deliveries.add_argument("--sink", metavar="SINK", help="deliveries to SINK")
    add_paging(deliveries)

    retry = command(
        commands, "retry", "operate:run_retry", "send dead deliveries again",
        ["vidhook retry 0193a4f3", "vidhook retry --dead --sink slack"],
    )  # fmt: skip
    add_common(retry)
    retry.add_argument(
        "delivery_ids", nargs="*", metavar="ID", help="deliveries to retry (ids or unique prefixes)"
    )
    retry.add_argument("--dead", action="store_true", help="retry every dead delivery")
    retry.add_argument("--sink", metavar="SINK", help="with --dead: only SINK's")

    sinks = command(
        commands, "sinks", "operate:run_sinks",
        "each sink's backlog, latest outcomes and health; pause or resume one",
        ["vidhook sinks", "vidhook sinks --json", "vidhook sinks pause ops-slack",
         "vidhook sinks resume ops-slack"],
    )  # fmt: skip
    add_common(sinks, url=True)
    sinks.add_argument(
        "action", nargs="?", choices=("pause", "resume"),
        help="pause a sink by hand (its deliveries wait, no probes) or resume it",
    )  # fmt: skip
    sinks.add_argument("sink", nargs="?", metavar="SINK", help="the sink to pause or resume")

    rejected = command(
        commands, "rejected", "operate:run_rejected", "the newest refused callbacks",
        ["vidhook rejected --limit 20"],
    )  # fmt: skip
    add_common(rejected, url=True)
    rejected.add_argument("--limit", type=int, default=50, help="how many (default 50)")

    _register_replay(commands)
    _register_rules(commands)
    _register_usage(commands)
    _register_digest(commands)


def _register_digest(commands: Any) -> None:
    digest = commands.add_parser("digest", help="work with [[digests]]")
    actions = digest.add_subparsers(
        dest="digest_command", required=True, metavar="ACTION", parser_class=CommandParser
    )
    run = command(
        actions, "run", "digest_command:run_digest",
        "compute a digest now and print what it sends (with --dry-run, send nothing)",
        ["vidhook digest run daily --dry-run", "vidhook digest run daily"],
    )  # fmt: skip
    add_common(run)
    run.add_argument("name", metavar="NAME", help="the digest's name")
    run.add_argument("--dry-run", action="store_true", help="print only; record and send nothing")
    run.add_argument(
        "--since", default="1d",
        help="start of the period when the digest never ran: RFC 3339 or an age (default 1d)",
    )  # fmt: skip


def _register_usage(commands: Any) -> None:
    usage = command(
        commands, "usage", "usage_command:run_usage",
        "tasks, outcomes, credits and estimated cost per group (from [pricing])",
        [
            "vidhook usage --by end_user_id --since 30d",
            "vidhook usage --by labels.team --by model --csv > usage.csv",
            "vidhook usage --since 2025-03-01T00:00:00Z --until 2025-04-01T00:00:00Z --json",
        ],
    )  # fmt: skip
    add_common(usage)
    usage.add_argument(
        "--by", action="append", metavar="FIELD",
        help="group by an event field (model, source, provider, status, resolution, ...) or a"
        " label (end_user_id, or labels.end_user_id); repeatable or comma-separated, at most 3",
    )  # fmt: skip
    usage.add_argument("--since", help="received at or after: RFC 3339 or an age (default 30d)")
    usage.add_argument("--until", help="received before: RFC 3339 or an age (default now)")
    usage.add_argument("--csv", action="store_true", help="print CSV with a header row")


def _register_replay(commands: Any) -> None:
    replay = command(
        commands, "replay", "replaying:run_replay",
        "send stored events again (through the current rules, or --to SINK)",
        [
            "vidhook replay 0193a4f2",
            "vidhook replay 0193a4f2 --to slack",
            "vidhook replay --since 2h --status failed --dry-run",
            "vidhook replay --sink slack --since 1d --to archive",
        ],
        description="Replay one event by ID, or every event the filters match. Replayed "
        "deliveries are marked as replays and carry new webhook ids.",
    )  # fmt: skip
    add_common(replay)
    replay.add_argument("event_id", nargs="?", metavar="ID", help="one event (id or prefix)")
    add_filter_options(replay)
    replay.add_argument(
        "--to", action="append", dest="to_sinks", metavar="SINK",
        help="send to SINK instead of the current rules' choice (repeatable)",
    )  # fmt: skip
    replay.add_argument("--dry-run", action="store_true", help="only count what would be sent")
    replay.add_argument("--all", action="store_true", help="with no filter: every event")
    replay.add_argument(
        "--max-events", type=int, metavar="N",
        help="refuse to replay more than N events (default: server.max_replay_events)",
    )  # fmt: skip


def _register_rules(commands: Any) -> None:
    rules = commands.add_parser("rules", help="work with routing rules")
    actions = rules.add_subparsers(
        dest="rules_command", required=True, metavar="ACTION", parser_class=CommandParser
    )
    test = command(
        actions, "test", "rules_trial:run_rules_test",
        "which stored events each rule of FILE would have matched (sends nothing)",
        ["vidhook rules test new-rules.toml", "vidhook rules test new-rules.toml --since 30d"],
        since="7d",
    )  # fmt: skip
    add_common(test)
    test.add_argument("file", metavar="FILE", help="a rules file: [[rules]] tables")
    add_filter_options(test)
    test.add_argument("--show", type=int, default=10, help="events listed per rule (default 10)")
    test.add_argument(
        "--max-events", type=int, default=100_000, help="refuse to test more events than this"
    )
