"""The one place vidhook's errors become HTTP answers: `{"error": {"code", "message"}}`.

The shape of that answer (`ErrorBody`) and its OpenAPI entries (`errors`) live here too, so the
callback endpoint, the admin API and the task API all draw them from the errors layer."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.background_tasks import BackgroundTask
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import ParameterKwarg
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from vidhook.receiver.errors import RateLimited, VidhookError

__all__ = [
    "ErrorBody",
    "ErrorDetail",
    "error_body",
    "error_response",
    "errors",
    "exception_handlers",
]

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


class ErrorDetail(msgspec.Struct):
    """A machine-readable code and a message that says what to do."""

    code: str
    message: str


class ErrorBody(msgspec.Struct):
    """Every error answer: `{"error": {"code", "message"}}`."""

    error: ErrorDetail


_ERROR_TEXT = {
    400: "The query or body is not valid; the message names the field",
    401: "No API token, or not a known one; send `Authorization: Bearer <token>`",
    403: "The API token lacks the scope this call needs",
    402: "The provider refused for want of credits; its message is passed on",
    404: "No such event, delivery, sink, source or task",
    409: "The thing is not in a state that allows this",
    422: "The request is valid but cannot be carried out (e.g. invalid rules on disk)",
    429: "The provider is rate limiting; retry after `Retry-After` seconds",
    502: "The provider could not be reached, or gave an error or a body vidhook cannot read",
    503: "The provider is unavailable; its message is passed on",
    504: "The provider did not answer in time",
}


def errors(*codes: int) -> dict[int, ResponseSpec]:
    """OpenAPI response entries for the error answers an endpoint can give."""
    return {
        code: ResponseSpec(ErrorBody, description=_ERROR_TEXT[code], generate_examples=False)
        for code in (400, 401, 403, *codes)
    }


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
