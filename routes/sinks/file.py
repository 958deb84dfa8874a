"""The `file` sink: append each event as one JSON line, for local use and the default config.

The file and any missing directory are created private (0600 and 0700); an existing file keeps
its mode.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import msgspec

from vidhook.receiver.private_files import open_private_append
from vidhook.routes.digest_render import digest_json
from vidhook.routes.sinks.base import Delivery, SendResult, SinkConfig, SinkContext, SinkError

__all__ = ["FileConfig", "FileSink"]


class FileConfig(SinkConfig, kw_only=True, forbid_unknown_fields=True):
    """A JSON-lines file; `fsync` makes each line durable before the delivery counts as done."""

    path: str
    fsync: bool = False


class FileSink:
    """Appends each delivery's event to a file as one JSON line.

    Writes are serialised by a lock and each line goes out in a single `write` on a file opened
    for appending, so concurrent deliveries never interleave and the file can be rotated
    between them.
    """

    def __init__(self, name: str, config: FileConfig, context: SinkContext) -> None:
        self.name = name
        self.config = config
        self._path = Path(config.path)
        self._lock = asyncio.Lock()

    async def send(self, delivery: Delivery) -> SendResult:
        """Append the event; an I/O error (full disk, no permission) is retried."""
        if delivery.digest is not None:
            line = digest_json(delivery.digest) + b"\n"
        else:
            line = msgspec.json.encode(delivery.event) + b"\n"
        async with self._lock:
            try:
                await asyncio.to_thread(self._append, line)
            except OSError as exc:
                raise SinkError(f"cannot write {self._path}: {exc.strerror or exc}") from None
        return SendResult()

    def _append(self, line: bytes) -> None:
        # A new file is 0600 and missing directories 0700: events are the providers' data.
        with os.fdopen(open_private_append(self._path), "ab") as file:
            file.write(line)
            file.flush()
            if self.config.fsync:
                os.fsync(file.fileno())
