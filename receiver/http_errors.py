"""The one place vidhook's errors become HTTP answers: `{"error": {"code", "message"}}`."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.background_tasks import BackgroundTask
from litestar.exceptions import HTTPException, ValidationException
from litestar.params import ParameterKwarg
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from vidhook.receiver.errors import RateLimited, VidhookError

__all__ = ["error_body", "error_response", "exception_handlers"]

_encode = msgspec.json.Encoder().encode

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}

_PHRASES = {status.value: status.phrase for status in HTTPStatus}


def _response(
    status: int,
    code: str,
    message: str,
    background: BackgroundTask | None = None,
    headers: dict[str, str] | None = None,
) -> Response[bytes]:
    return Response(
        _encode({"error": {"code": code, "message": message}}),
        status_code=status,
        media_type="application/json",
        background=background,
        headers=headers,
    )


def error_body(exc: VidhookError) -> tuple[int, bytes]:
    """The status and JSON body of the answer to a vidhook error, for a raw ASGI answer."""
    return exc.status_code, _encode({"error": {"code": exc.code, "message": exc.message}})


def error_response(exc: VidhookError, background: BackgroundTask | None = None) -> Response[bytes]:
    """The HTTP answer for a vidhook error."""
    response = _response(exc.status_code, exc.code, exc.message, background)
    if isinstance(exc, RateLimited):
        response.headers["Retry-After"] = str(max(1, round(exc.retry_after)))
    return response


def _vidhook_error(_: Request[Any, Any, Any], exc: VidhookError) -> Response[bytes]:
    return error_response(exc)


def _http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
    status = exc.status_code
    message = str(exc.detail)
    if isinstance(exc, ValidationException) and exc.extra:
        message = f"{message}: {_encode(_as_sent(request, exc.extra)).decode()}"
    if status >= 500:
        return _response(status, "internal_error", "internal error")
    headers = dict(exc.headers or {})
    if message == _PHRASES.get(status):  # the router's bare "Not Found" says nothing useful
        message = _routing_message(request, status, headers.get("allow"))
    return _response(status, _HTTP_CODES.get(status, "http_error"), message, headers=headers)


def _as_sent(request: Request[Any, Any, Any], extra: Any) -> Any:
    """Validation errors keyed by the names the client sent (`state`), not the handler's
    Python parameter names (`delivery_state`), which the client never saw."""
    if not isinstance(extra, list):
        return extra
    try:
        parameters = request.route_handler.parsed_fn_signature.parameters
    except (AttributeError, KeyError):
        return extra
    named = []
    for item in extra:
        field = parameters.get(str(item.get("key"))) if isinstance(item, dict) else None
        kwarg = field.kwarg_definition if field is not None else None
        if isinstance(kwarg, ParameterKwarg) and kwarg.name:
            item = {**item, "key": kwarg.name}
        named.append(item)
    return named


def _routing_message(request: Request[Any, Any, Any], status: int, allow: str | None) -> str:
    path = request.url.path[:200]
    if status == 404:
        return f"nothing is served at {path}; callbacks go to POST /hooks/{{source}}[/{{token}}]"
    if status == 405:
        allowed = f"; use {allow}" if allow else ""
        return f"{request.method[:16]} is not allowed on {path}{allowed}"
    return _PHRASES[status]


def _unexpected(_: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    import structlog

    structlog.get_logger("vidhook.http").exception("unhandled error", error=repr(exc))
    return _response(HTTP_500_INTERNAL_SERVER_ERROR, "internal_error", "internal error")


exception_handlers: dict[int | type[Exception], Any] = {
    VidhookError: _vidhook_error,
    HTTPException: _http_error,
    Exception: _unexpected,
}
