"""`vidhook serve --config FILE` as a child process, for drills that kill or signal it."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
from drive import eventually
from sink_servers import free_port

__all__ = ["ServeProcess"]

VIDHOOK = [sys.executable, "-m", "vidhook"]


class ServeProcess:
    """One `vidhook serve` at a time on a fixed loopback port; its output goes to `log`
    (JSON lines), appended across restarts."""

    def __init__(
        self,
        config: Path,
        log: Path,
        *,
        host: str = "127.0.0.1",
        env: dict[str, str] | None = None,
        open_files: int | None = None,
    ) -> None:
        self.config = config
        self.log = log
        self.host = host
        self.port = free_port(host)
        self.url = f"http://{host}:{self.port}"
        self.env = env or {}
        self.open_files = open_files  # the process's RLIMIT_NOFILE, when set
        self.process: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        """Start it and wait until it is ready (store open, worker running)."""
        env = {k: v for k, v in os.environ.items() if k != "VIDHOOK_CONFIG"} | self.env
        command = [*VIDHOOK, "serve", "--config", str(self.config), "--host", self.host]
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [*command, "--port", str(self.port)], stdout=out, stderr=subprocess.STDOUT,
                env=env, preexec_fn=self._limit_open_files,
            )  # fmt: skip
        async with httpx.AsyncClient(base_url=self.url) as client:

            async def ready() -> bool:
                assert self.process is not None
                assert self.process.poll() is None, f"vidhook exited: {self.log.read_text()}"
                try:
                    return (await client.get("/readyz")).status_code == 200
                except httpx.TransportError:
                    return False

            await eventually(ready, within=30, step=0.05)

    def _limit_open_files(self) -> None:
        if self.open_files is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (self.open_files, self.open_files))

    def peak_rss(self) -> int:
        """The running process's resident-memory high-water mark, in bytes."""
        assert self.process is not None
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
        raise AssertionError("no VmHWM in /proc/PID/status")

    def signal(self, number: signal.Signals) -> None:
        """Send a signal to the running process."""
        assert self.process is not None
        self.process.send_signal(number)

    def kill(self) -> None:
        """SIGKILL it and reap it, as a crash would leave things."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=10)
        self.process = None

    def stop(self) -> None:
        """Stop it as an operator would (SIGTERM), killing it if it does not exit."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def log_records(self) -> list[dict[str, Any]]:
        """The JSON log lines written so far (other lines skipped)."""
        records = []
        for line in self.log.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                try:
                    records.append(json.loads(line))
                except ValueError:
                    continue
        return records
