"""Raw HTTP/1.1 over a loopback socket, for requests no client library would send: oversized,
unfinished or malformed heads, and paths exactly as written."""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass
from typing import Any

__all__ = ["Answer", "exchange", "parse_answer", "read_answer", "send_until_closed"]

TIMEOUT = 30.0  # bounds a broken test; no assertion depends on it


@dataclass
class Answer:
    """A parsed answer: status, lower-cased headers and the JSON body (None if not JSON)."""

    status: int
    headers: dict[str, str]
    body: Any


def parse_answer(raw: bytes) -> Answer:
    """The answer in `raw`, the bytes a server sent before closing."""
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    try:
        decoded = json.loads(body) if body else None
    except ValueError:
        decoded = None
    return Answer(int(status_line.split()[1]), headers, decoded)


def read_answer(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes (or resets) the connection."""
    chunks = []
    sock.settimeout(TIMEOUT)
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except ConnectionResetError:
        pass
    return b"".join(chunks)


def exchange(port: int, data: bytes) -> bytes:
    """Send `data` on a new connection and read until the server closes it."""
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        sock.sendall(data)
        return read_answer(sock)


def send_until_closed(sock: socket.socket, data: bytes, chunk: bytes, total: int) -> int:
    """Send `data`, then `chunk` repeatedly up to `total` bytes in all, stopping when the
    server closes the connection; the number of bytes sent."""
    sock.settimeout(TIMEOUT)
    sent = 0
    try:
        sock.sendall(data)
        sent = len(data)
        while sent < total:
            sock.sendall(chunk)
            sent += len(chunk)
    except (BrokenPipeError, ConnectionResetError):
        pass
    return sent
