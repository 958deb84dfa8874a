"""The built wheel installs only `vidhook`: `receiver` and `routes` ride inside it."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

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
