"""The installed `vidhook` as a person meets it: run as a process in a temporary folder,
through a pipe, and on an 80-column terminal (a real pseudo-terminal)."""

from __future__ import annotations

import asyncio
import json
import os
import pty
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.stored_events import RAW, make_event
from tests.test_cli_operate import Workspace, route
from vidhook.receiver.cli.config_example import example_config
from vidhook.receiver.cli.parser import build_parser
from vidhook.receiver.config import parse_settings

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
VIDHOOK = [sys.executable, "-m", "vidhook"]
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def environment(**extra: str) -> dict[str, str]:
    """This environment without VIDHOOK_* settings, running this checkout's code."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDHOOK_")}
    return {**env, "PYTHONPATH": str(ROOT), **extra}


def vidhook(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*VIDHOOK, *args], cwd=cwd, env=environment(**env), capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip


def on_terminal(*args: str, cwd: Path, columns: int = 80) -> str:
    """Run vidhook with stdout on a pseudo-terminal `columns` wide; what it printed."""
    leader, follower = pty.openpty()
    env = environment(COLUMNS=str(columns), LINES="50", TERM="xterm")
    with subprocess.Popen(
        [*VIDHOOK, *args], cwd=cwd, env=env, stdout=follower, stderr=subprocess.PIPE
    ) as process:
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal closed: the process is done
                break
            if not chunk:
                break
            chunks.append(chunk)
        process.wait(timeout=60)
    os.close(leader)
    assert process.returncode == 0, process.stderr.read() if process.stderr else ""
    return b"".join(chunks).decode().replace("\r\n", "\n")


@pytest.fixture
def seeded(tmp_path):
    ws = Workspace(tmp_path)
    events = [make_event(n, labels={"team": "growth"}) for n in range(3)]

    async def work(store):
        for event in events:
            await store.ingest(event, RAW, route)

    ws.seed(work)
    return ws, events


# 1. Config discovery: nothing found is said, and no store is made.


@pytest.mark.parametrize("command", [["events"], ["callback-url", "vibegen"], ["sinks"]])
def test_a_read_command_in_an_empty_folder_says_where_it_looked(tmp_path, command):
    done = vidhook(*command, cwd=tmp_path)
    assert done.returncode == 3, done.stderr
    assert "no config found" in done.stderr and "./vidhook.toml" in done.stderr
    assert "VIDHOOK_CONFIG" in done.stderr and str(tmp_path) in done.stderr
    assert list(tmp_path.iterdir()) == []  # no vidhook.db


def test_config_is_taken_before_or_after_the_command_and_from_the_folder(seeded, tmp_path):
    ws, events = seeded
    for argv in (["-c", str(ws.config), "events"], ["events", "-c", str(ws.config)]):
        done = vidhook(*argv, cwd=tmp_path)
        assert done.returncode == 0 and events[0].id in done.stdout, done.stderr
    done = vidhook("events", cwd=tmp_path, VIDHOOK_CONFIG=str(ws.config))
    assert events[0].id in done.stdout
    assert vidhook("events", cwd=tmp_path).returncode == 0  # ./vidhook.toml


def test_a_config_whose_sqlite_file_is_missing_creates_nothing(tmp_path):
    (tmp_path / "vidhook.toml").write_text('[store]\nurl = "sqlite:///elsewhere.db"\n')
    done = vidhook("events", cwd=tmp_path)
    assert done.returncode == 5 and "does not exist" in done.stderr
    assert "vidhook.toml" in done.stderr
    assert not (tmp_path / "elsewhere.db").exists()


# 2. Output: short ids, prefixes, relative times, 80 columns, tab-separated when piped.


def test_tables_fit_80_columns_with_short_ids_and_relative_times(seeded, tmp_path):
    ws, events = seeded
    shown = on_terminal("events", "-c", str(ws.config), cwd=tmp_path)
    lines = ANSI.sub("", shown).splitlines()
    assert max(map(len, lines)) <= 80, shown
    assert events[0].id not in shown  # not the whole id ...
    assert all(e.id[:8] in shown for e in events)  # ... its start
    assert "ago" in shown and "task.completed" in shown
    deliveries = on_terminal("deliveries", "-c", str(ws.config), cwd=tmp_path)
    assert max(map(len, ANSI.sub("", deliveries).splitlines())) <= 80, deliveries


def test_piped_output_is_tab_separated_and_whole(seeded, tmp_path):
    ws, events = seeded
    done = vidhook("events", "-c", str(ws.config), cwd=tmp_path)
    header, *rows = done.stdout.splitlines()
    assert header.split("\t")[:4] == ["id", "received", "source", "type"]
    assert [row.split("\t")[0] for row in rows] == [e.id for e in reversed(events)]
    assert "─" not in done.stdout and "│" not in done.stdout
    lines = vidhook("events", "-c", str(ws.config), "--json", cwd=tmp_path).stdout.splitlines()
    assert [json.loads(line)["event"]["id"] for line in lines] == [e.id for e in reversed(events)]


def test_any_unique_prefix_names_an_event(seeded, tmp_path):
    ws, events = seeded
    target = events[1]
    done = vidhook("show", "-c", str(ws.config), target.id[:-3], "--json", cwd=tmp_path)
    assert json.loads(done.stdout)["event"]["id"] == target.id
    common = next(
        (ids[0][:n] for ids in [[e.id for e in events]] for n in range(36, 0, -1)
         if all(i.startswith(ids[0][:n]) for i in ids)),
        "",
    )  # fmt: skip
    if len(common) >= 8:  # created within the same minute: a shared prefix is ambiguous
        done = vidhook("show", "-c", str(ws.config), common, cwd=tmp_path)
        assert done.returncode == 2 and "ambiguous" in done.stderr
        assert all(e.id in done.stderr for e in events)
    done = vidhook("show", "-c", str(ws.config), "ffffffff", cwd=tmp_path)
    assert done.returncode == 4 and "no event with id 'ffffffff'" in done.stderr


# 3. A closed pipe ends the command quietly.


def test_a_closed_pipe_is_no_traceback(tmp_path):
    ws = Workspace(tmp_path)

    async def work(store):
        for n in range(500):
            await store.ingest(make_event(n), RAW, route)

    ws.seed(work)
    for extra in ("", " --json"):
        line = f"{sys.executable} -m vidhook events --limit 500 -c {ws.config}{extra} | head -2"
        done = subprocess.run(
            ["sh", "-c", line], cwd=tmp_path, env=environment(), capture_output=True,
            text=True, timeout=60,
        )  # fmt: skip
        assert len(done.stdout.splitlines()) == 2
        assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr


# 4. One flag vocabulary; unknown names are answered with the known ones.


def test_labels_are_key_equals_value_and_a_typo_is_not_an_empty_list(seeded, tmp_path):
    ws, _ = seeded
    config = str(ws.config)
    done = vidhook("events", "-c", config, "--label", "team=growth", "--json", cwd=tmp_path)
    assert len(done.stdout.splitlines()) == 3
    done = vidhook("events", "-c", config, "--source", "vibgen", cwd=tmp_path)
    assert done.returncode == 4
    assert "no source named 'vibgen'; did you mean 'vibegen'?" in done.stderr
    done = vidhook("deliveries", "-c", config, "--sink", "outt", cwd=tmp_path)
    assert done.returncode == 4 and "did you mean 'out'?" in done.stderr


def test_check_without_a_config_checks_the_embedded_default(tmp_path):
    done = vidhook("check", cwd=tmp_path)
    assert done.returncode == 0 and "the embedded default: OK" in done.stdout
    assert list(tmp_path.iterdir()) == []


# 5. Exit codes, fast help, examples, completion.


def test_exit_codes(seeded, tmp_path):
    ws, _ = seeded
    help_text = vidhook("--help", cwd=tmp_path).stdout
    for code in range(6):
        assert f"\n  {code}  " in help_text
    assert vidhook("events", "--no-such-option", cwd=tmp_path).returncode == 2
    (tmp_path / "bad.toml").write_text("[server]\nport = 'x'\n")
    assert vidhook("events", "-c", "bad.toml", cwd=tmp_path).returncode == 3
    assert vidhook("show", "-c", str(ws.config), "0123abcd", cwd=tmp_path).returncode == 4
    assert vidhook("events", "--url", "http://127.0.0.1:9", cwd=tmp_path, VIDHOOK_TOKEN="t") \
        .returncode == 5  # fmt: skip


def test_a_port_in_use_exits_5_before_anything_starts(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = vidhook("serve", "--host", "127.0.0.1", "--port", str(port), cwd=tmp_path)
    assert done.returncode == 5, done.stderr
    assert "cannot listen on 127.0.0.1" in done.stderr
    assert "started" not in done.stdout + done.stderr


def test_help_imports_no_web_stack(tmp_path):
    script = (
        "import sys\nfrom vidhook.receiver.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('litestar', 'uvicorn', 'httpx', 'rich') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=environment(), capture_output=True,
        text=True, timeout=60,
    )  # fmt: skip
    assert done.stdout.strip().splitlines()[-1] == "[]"


def _subcommands(parser):
    for action in parser._actions:
        if action.__class__.__name__ == "_SubParsersAction":
            for name, sub in action.choices.items():
                yield from (
                    _subcommands(sub)
                    if name in ("rules", "config", "archive", "digest")
                    else [(name, sub)]
                )


def test_every_command_has_examples_and_every_argument_help():
    commands = list(_subcommands(build_parser()))
    assert len(commands) >= 17
    for name, sub in commands:
        shown = sub.format_help()
        assert "examples:\n  " in shown and "vidhook" in shown.split("examples:")[1], name
        for action in sub._actions:
            assert action.help, (name, action.dest)


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts(tmp_path, shell):
    done = vidhook("completion", shell, cwd=tmp_path)
    assert done.returncode == 0 and "vidhook" in done.stdout and "_ARGCOMPLETE" in done.stdout


def test_bash_completion_completes_commands_and_options(tmp_path):
    line = (
        f'vidhook() {{ {sys.executable} -m vidhook "$@"; }}\n'
        'eval "$(vidhook completion bash)"\n'
        "COMP_LINE='vidhook eve'; COMP_POINT=11\n"
        '_python_argcomplete vidhook eve vidhook; echo "${COMPREPLY[@]}"\n'
    )
    done = subprocess.run(
        ["bash", "-c", line], cwd=tmp_path, env=environment(), capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert done.stdout.split() == ["events"], done.stderr


# 6. The example config ships inside the package, and loads.


def test_the_shipped_example_config_loads_and_is_printed(tmp_path):
    text = example_config()
    names = {"VIDHOOK_ADMIN_TOKEN", "VIBEGEN_CALLBACK_TOKEN"}
    env = {name: "x" * 24 for name in names} | {
        line.split("${")[1].split("}")[0]: "x" * 24 for line in text.splitlines() if "${" in line
    }
    settings = parse_settings(text, origin="example", env=env)
    assert settings.sources and settings.sinks and settings.rules
    assert vidhook("config", "example", cwd=tmp_path).stdout == text
    assert (ROOT / "deploy" / "vidhook.example.toml").read_text() == text


# --url: the read commands through a running vidhook's admin API.


async def test_read_commands_through_the_admin_api(tmp_path):
    from tests.conftest import start_vidhook
    from tests.stored_events import READER
    from vidhook.receiver.config import load_settings

    ws = Workspace(tmp_path)
    events = [make_event(n) for n in range(2)]

    async def work(store):
        for event in events:
            await store.ingest(event, RAW, route)

    await asyncio.to_thread(ws.seed, work)
    running, stop = await start_vidhook(load_settings(ws.config), run_workers=False)
    url = str(running.client.base_url)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    async def run(*args: str, token: str = READER) -> tuple[int, str, str]:
        process = await asyncio.create_subprocess_exec(
            *VIDHOOK, *args, cwd=elsewhere, env=environment(VIDHOOK_TOKEN=token),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(process.communicate(), 60)
        return process.returncode or 0, out.decode(), err.decode()

    try:
        code, out, err = await run("events", "--url", url, "--json")
        assert code == 0, err
        listed = [json.loads(line)["event"]["id"] for line in out.splitlines()]
        assert listed == [events[1].id, events[0].id]
        code, out, err = await run("show", "--url", url, events[0].id[:-2], "--json")
        assert json.loads(out)["event"]["id"] == events[0].id, err
        for command in ("deliveries", "sinks", "rejected"):
            code, out, err = await run(command, "--url", url)
            assert code == 0, err
        code, _, err = await run("events", "--url", url, token="wrong-token-0123456789")
        assert code == 1 and "401" in err
    finally:
        await stop()


# 6. Config errors: file, line and column, the valid choices and the closest one.


@pytest.mark.parametrize(
    ("toml", "says"),
    [
        (
            '[server]\nport = 8080\n\n[server.tls]\ncert = "x"\n',
            "vidhook.toml: unknown key `server.tls` (keys here: public_url, host, port,",
        ),
        (
            '[sources.a]\nprovider = "ark"\ntokens = ["0123456789abcdef"]\nrate_limt = 5\n',
            "unknown key `sources.a.rate_limt`; did you mean 'rate_limit'?",
        ),
        (
            '[sources.a]\nprovider = "vibgen"\n',
            "sources.a.provider: unknown provider 'vibgen'; did you mean 'vibegen'? (use one of",
        ),
        (
            '[log]\nformat = "jsn"\n',
            "log.format: 'jsn' is not a valid choice; did you mean 'json'?"
            " (one of: auto, console, json)",
        ),
        ('# store\n[store]\nurl = "mysql://db/x"\n', "vidhook.toml: store.url: unsupported scheme"),
        (
            '[sinks.out]\ntype = "log"\n\n[[rules]]\nname = "r"\nsinks = ["oot"]\n',
            'vidhook.toml: rule "r": sinks: unknown sink "oot"',
        ),
    ],
)
def test_config_errors_point_into_the_file(tmp_path, toml, says):
    (tmp_path / "vidhook.toml").write_text(toml)
    done = vidhook("check", cwd=tmp_path)
    assert done.returncode == 3, done.stdout
    assert says in done.stderr
    written = {
        "server.tls": 4, "rate_limt": 4, "vibgen": 2, "jsn": 2, "mysql": 3, "oot": 6,
    }  # fmt: skip
    expected = next(n for key, n in written.items() if key in toml)
    assert f"(at line {expected}, column 1)" in done.stderr, done.stderr
