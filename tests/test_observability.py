"""The shipped Grafana dashboard and Prometheus alert rules match the metrics vidhook exports."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from vidhook.receiver.metrics import Metrics

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
DASHBOARD = DEPLOY / "grafana" / "vidhook.json"
ALERTS = DEPLOY / "prometheus" / "alerts.yaml"
# Series names as PromQL sees them: counters end in _total, histograms in _bucket/_sum/_count.
SERIES = re.compile(r"\b(vidhook_[a-z_]+)\b")
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}


def exported_series() -> dict[str, set[str]]:
    """Each metric family vidhook exports, with the series names PromQL can query."""
    families: dict[str, set[str]] = {}
    for family in Metrics().registry.collect():
        families[family.name] = {family.name + end for end in SUFFIXES[family.type]}
    return families


def dashboard_queries() -> list[str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [target["expr"] for panel in panels for target in panel["targets"]]


def test_the_dashboard_shows_every_metric() -> None:
    used = {name for expr in dashboard_queries() for name in SERIES.findall(expr)}
    missing = [family for family, names in exported_series().items() if not names & used]
    assert missing == [], f"metrics with no panel in {DASHBOARD.name}: {missing}"


def test_the_dashboard_and_alerts_query_only_exported_series() -> None:
    known = set().union(*exported_series().values())
    text = ALERTS.read_text() + "\n".join(dashboard_queries())
    unknown = sorted(set(SERIES.findall(text)) - known)
    assert unknown == []


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("promtool is missing: .ci/run installs Debian's prometheus package")
        pytest.skip("promtool is not installed (apt-get install prometheus)")
    return found


def test_alert_rules_are_valid() -> None:
    run = subprocess.run(
        [promtool(), "check", "rules", str(ALERTS)], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_alert_rules_fire_as_their_tests_say() -> None:
    run = subprocess.run(
        [promtool(), "test", "rules", "alerts_test.yaml"],
        capture_output=True,
        text=True,
        cwd=ALERTS.parent,
    )
    assert run.returncode == 0, run.stdout + run.stderr
