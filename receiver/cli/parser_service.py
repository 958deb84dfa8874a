"""The grammar of `serve`, `check`, `migrate`, `callback-url`, `config example` and
`completion`."""

from __future__ import annotations

from typing import Any

from vidhook.receiver.cli.parser import CommandParser, add_config_option, command

__all__ = ["register"]


def register(commands: Any) -> None:
    """Add this module's subcommands."""
    serve = command(
        commands, "serve", "service:run_serve", "run the server",
        ["vidhook serve", "vidhook serve -c /etc/vidhook/vidhook.toml --port 9000"],
    )  # fmt: skip
    add_config_option(serve)
    serve.add_argument("--host", help="listen address (default: server.host)")
    serve.add_argument("--port", type=int, help="listen port (default: server.port)")

    check = command(
        commands, "check", "service:run_check", "validate config and rules; print the routes",
        ["vidhook check", "vidhook check -c vidhook.toml --connect"],
    )  # fmt: skip
    add_config_option(check)
    check.add_argument(
        "--show-secrets",
        action="store_true",
        help="print callback URLs with their whole token (masked to 4 characters by default)",
    )
    check.add_argument(
        "--connect", action="store_true", help="also open the store (as serve would) and ping it"
    )

    migrate = command(
        commands, "migrate", "service:run_migrate", "apply the store's schema migrations",
        ["vidhook migrate -c /etc/vidhook/vidhook.toml"],
    )  # fmt: skip
    add_config_option(migrate)

    url = command(
        commands, "callback-url", "service:run_callback_url",
        "print the callback URL for a source", ["vidhook callback-url vibegen"],
    )  # fmt: skip
    add_config_option(url)
    url.add_argument("source", metavar="SOURCE", help="a source name from the config")

    config = commands.add_parser("config", help="the config file format")
    actions = config.add_subparsers(
        dest="config_command", required=True, metavar="ACTION", parser_class=CommandParser
    )
    command(
        actions, "example", "config_example:run_example",
        "print the full example config, every option explained",
        ["vidhook config example > vidhook.toml"],
    )  # fmt: skip

    completion = command(
        commands, "completion", "completion:run_completion",
        "print the shell completion script for bash, zsh or fish",
        [
            'eval "$(vidhook completion bash)"      # in ~/.bashrc',
            'eval "$(vidhook completion zsh)"       # in ~/.zshrc',
            "vidhook completion fish > ~/.config/fish/completions/vidhook.fish",
        ],
    )  # fmt: skip
    completion.add_argument("shell", choices=("bash", "zsh", "fish"), help="the shell")
