"""The HTTP/1.1 message format for `Http11Transport`: requests out, answer heads in.

Parsing is strict (RFC 9112): CRLF line ends, a token before each colon, no control characters,
no line folding, one unambiguous body length. Anything else is an `httpx.RemoteProtocolError`
that quotes the start of the offending line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import httpx

__all__ = [
    "MAX_HEAD_BYTES",
    "MAX_INTERIM_ANSWERS",
    "Head",
    "encode_request",
    "parse_chunk_size",
    "parse_field",
    "parse_head",
]

MAX_HEAD_BYTES = 64 * 1024  # one answer's status line and headers, or a chunked body's trailers
MAX_INTERIM_ANSWERS = 16  # 1xx answers before the final one

_TOKEN = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_TEXT = rb"[\t\x20-\x7e\x80-\xff]*"  # field-value or reason-phrase characters: no CR, LF, NUL
_STATUS_LINE = re.compile(rb"HTTP/1\.([01]) ([0-9]{3})(?: (" + _TEXT + rb"))?")
_FIELD_LINE = re.compile(rb"(" + _TOKEN + rb"):[ \t]*(" + _TEXT + rb"?)[ \t]*")
_FIELD_NAME = re.compile(_TOKEN)
_FIELD_VALUE = re.compile(_TEXT)
_TARGET = re.compile(rb"[\x21-\x7e\x80-\xff]+")
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,15})[ \t]*(?:;" + _TEXT + rb")?")
_LENGTH = re.compile(rb"[0-9]{1,18}")

# How the body ends: after this many bytes, with a zero-size chunk, or when the server closes.
Body = int | Literal["chunked", "eof"]


@dataclass(frozen=True, slots=True)
class Head:
    """An answer's status line and headers, and what they say about its body and connection."""

    status: int
    reason: bytes
    version: bytes  # b"HTTP/1.1" or b"HTTP/1.0"
    headers: list[tuple[bytes, bytes]]
    body: Body
    keep_alive: bool


def encode_request(request: httpx.Request, body: bytes) -> bytes:
    """The request as bytes on the wire, its whole body sent with a Content-Length."""
    method = request.method.encode("ascii")
    target = request.url.raw_path
    if not _FIELD_NAME.fullmatch(method) or not _TARGET.fullmatch(target):
        raise httpx.LocalProtocolError(f"cannot send request line {method!r} {target!r}")
    parts = [method, b" ", target, b" HTTP/1.1\r\n"]
    has_host = has_length = False
    for name, value in request.headers.raw:
        lowered = name.lower()
        if lowered == b"transfer-encoding":  # a streamed body was read whole: length below
            continue
        has_host = has_host or lowered == b"host"
        has_length = has_length or lowered == b"content-length"
        if not _FIELD_NAME.fullmatch(name) or not _FIELD_VALUE.fullmatch(value):
            raise httpx.LocalProtocolError(f"cannot send header {name!r}: {value[:100]!r}")
        parts += (name, b": ", value, b"\r\n")
    if not has_host:
        parts += (b"Host: ", request.url.netloc, b"\r\n")
    if body and not has_length:
        parts += (b"Content-Length: ", str(len(body)).encode(), b"\r\n")
    parts += (b"\r\n", body)
    return b"".join(parts)


def parse_head(raw: bytes, method: str) -> Head:
    """Parse one answer head (up to and including its blank line) to a request of `method`."""
    status_line, *lines = raw[:-4].split(b"\r\n")
    match = _STATUS_LINE.fullmatch(status_line)
    if match is None:
        raise httpx.RemoteProtocolError(f"malformed status line: {status_line[:100]!r}")
    status = int(match[2])
    if status == 101:
        raise httpx.RemoteProtocolError("server switched protocols (101), which was not asked for")
    headers = [parse_field(line) for line in lines]
    connection = _tokens(headers, b"connection")
    if match[1] == b"1":
        version, keep_alive = b"HTTP/1.1", b"close" not in connection
    else:
        version, keep_alive = b"HTTP/1.0", b"keep-alive" in connection
    body = _body(status, method, headers)
    return Head(
        status=status,
        reason=match[3] or b"",
        version=version,
        headers=headers,
        body=body,
        keep_alive=keep_alive and body != "eof",
    )


def parse_field(line: bytes) -> tuple[bytes, bytes]:
    """One `name: value` header or trailer line, without its CRLF."""
    match = _FIELD_LINE.fullmatch(line)
    if match is None:
        raise httpx.RemoteProtocolError(f"malformed header line: {line[:100]!r}")
    return match[1], match[2]


def parse_chunk_size(line: bytes) -> int:
    """The size in a chunked body's size line (extensions ignored), without its CRLF."""
    match = _CHUNK_SIZE.fullmatch(line)
    if match is None:
        raise httpx.RemoteProtocolError(f"malformed chunk size line: {line[:100]!r}")
    return int(match[1], 16)


def _body(status: int, method: str, headers: list[tuple[bytes, bytes]]) -> Body:
    if status < 200 or status in (204, 304) or method == "HEAD":
        return 0
    codings = _tokens(headers, b"transfer-encoding")
    lengths = _tokens(headers, b"content-length")
    if codings:
        if lengths:
            raise httpx.RemoteProtocolError("answer has both Transfer-Encoding and Content-Length")
        if codings != [b"chunked"]:
            raise httpx.RemoteProtocolError(f"unsupported Transfer-Encoding: {codings!r}")
        return "chunked"
    if lengths:
        if len(set(lengths)) > 1 or not _LENGTH.fullmatch(lengths[0]):
            raise httpx.RemoteProtocolError(f"invalid Content-Length: {lengths!r}")
        return int(lengths[0])
    return "eof"


def _tokens(headers: list[tuple[bytes, bytes]], name: bytes) -> list[bytes]:
    """The comma-separated values of every `name` header, trimmed and lower-cased."""
    return [
        token.strip().lower()
        for key, value in headers
        if key.lower() == name
        for token in value.split(b",")
    ]
