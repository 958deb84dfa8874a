"""The shipped HAProxy config (deploy/haproxy.cfg) run on loopback for drills: the public bind
and the replicas' addresses rendered for this machine, an admin socket to read the replicas'
state from, and the proxy's own source address pinned so the replicas can trust exactly it."""

from __future__ import annotations

import asyncio
import csv
import os
import shutil
import subprocess
from pathlib import Path

import pytest

__all__ = ["HAPROXY", "EdgeProxy", "render_haproxy", "require_haproxy"]

DEPLOY = Path(__file__).parent.parent / "deploy"
HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"


def require_haproxy() -> None:
    """Skip without HAProxy; in CI (which installs it) fail instead."""
    if Path(HAPROXY).exists():
        return
    if os.environ.get("CI") or os.environ.get("VIDHOOK_REQUIRE_POSTGRES") == "1":
        pytest.fail("haproxy is not installed; .ci/run installs Debian's package")
    pytest.skip("haproxy is not installed (apt-get install haproxy)")


def render_haproxy(
    public: str, replicas: dict[str, str], *, source: str, admin_socket: Path
) -> str:
    """deploy/haproxy.cfg with `public` (host:port) as its only bind, each `replicas` name at its
    loopback host:port, outgoing connections from `source`, and an admin socket."""
    lines = []
    for line in (DEPLOY / "haproxy.cfg").read_text().splitlines():
        stripped = line.split("#", 1)[0].split()
        if line.rstrip().endswith("# public-bind"):
            line = f"    bind {public}"
        elif line.rstrip().endswith("# replica"):
            name = stripped[1]
            line = f"    server {name} {replicas.pop(name)}"
        elif stripped[:2] == ["balance", "roundrobin"]:
            line += f"\n    source {source}"
        elif line.startswith("global"):
            line += f"\n    stats socket {admin_socket} level admin"
        lines.append(line)
    assert not replicas, f"no server line for {sorted(replicas)}"
    return "\n".join(lines) + "\n"


class EdgeProxy:
    """HAProxy in the foreground on a rendered config; its log goes to `log`."""

    def __init__(self, config: Path, log: Path, admin_socket: Path) -> None:
        self.config = config
        self.log = log
        self.admin_socket = admin_socket
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        check = subprocess.run(
            [HAPROXY, "-c", "-q", "-f", str(self.config)], capture_output=True, check=False
        )
        assert check.returncode == 0, check.stderr.decode() + check.stdout.decode()
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [HAPROXY, "-db", "-f", str(self.config)], stdout=out, stderr=subprocess.STDOUT
            )

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    async def server_states(self) -> dict[str, str]:
        """Each replica's state as HAProxy judges it: `UP`, `DOWN`, `UP 1/2` and so on."""
        assert self.process is not None and self.process.poll() is None, self.log.read_text()
        reader, writer = await asyncio.open_unix_connection(str(self.admin_socket))
        try:
            writer.write(b"show stat\n")
            await writer.drain()
            text = (await reader.read()).decode()
        finally:
            writer.close()
        rows = csv.DictReader(text.lstrip("# ").splitlines())
        return {
            row["svname"]: row["status"]
            for row in rows
            if row["pxname"] == "vidhook" and row["svname"] not in ("BACKEND", "FRONTEND")
        }
