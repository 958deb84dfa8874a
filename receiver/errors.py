"""vidhook's errors, each with the HTTP answer it maps to.

    VidhookError
    ├── BadRequest            400  not JSON, bad query or body of an admin call
    ├── Unauthorized          401  authentication missing or wrong
    ├── Forbidden             403  authenticated, but not allowed this
    ├── NotFound              404  unknown source, event, delivery, ...
    ├── Conflict              409
    ├── PayloadTooLarge       413
    ├── UnreadablePayload     422  JSON the provider's schema cannot read
    ├── RateLimited           429
    ├── UpstreamError         the provider's own error, passed on with its status
    ├── StoreUnavailable      503  the store cannot commit (disk full, read-only)
    │   └── StoreDamaged          the database or its WAL is damaged: refused at start
    ├── Unreachable           the command line cannot reach the store or a running vidhook
    ├── ArchiveFailed         a video could not be archived (not an HTTP answer)
    │   ├── ArchiveFinal          retrying will not help: link gone, too large, not a video
    │   │   └── ArchiveTooLarge       the video is larger than `[archive].max_bytes`
    │   └── ArchiveRetryable      worth retrying: timeout, connection error, 5xx, 429
    └── ConfigError           invalid configuration or rules (not an HTTP answer)

Each error's docstring is its default message.
"""

from __future__ import annotations

__all__ = [
    "ArchiveFailed",
    "ArchiveFinal",
    "ArchiveRetryable",
    "ArchiveTooLarge",
    "BadRequest",
    "ConfigError",
    "Conflict",
    "Forbidden",
    "NotFound",
    "PayloadTooLarge",
    "RateLimited",
    "StoreDamaged",
    "StoreUnavailable",
    "Unauthorized",
    "Unreachable",
    "UnreadablePayload",
    "UpstreamError",
    "VidhookError",
]


class VidhookError(Exception):
    """Something went wrong in vidhook."""

    status_code = 500
    code = "internal_error"

    def __init__(self, message: str | None = None, *, code: str | None = None) -> None:
        self.message = message or (self.__doc__ or "").strip()
        if code is not None:
            self.code = code
        super().__init__(self.message)


class BadRequest(VidhookError):
    """The request could not be read."""

    status_code = 400
    code = "bad_request"


class Unauthorized(VidhookError):
    """Authentication is missing or wrong."""

    status_code = 401
    code = "unauthorized"


class Forbidden(VidhookError):
    """This credential is not allowed to do that."""

    status_code = 403
    code = "forbidden"


class NotFound(VidhookError):
    """No such thing."""

    status_code = 404
    code = "not_found"


class Conflict(VidhookError):
    """The request conflicts with the current state."""

    status_code = 409
    code = "conflict"


class PayloadTooLarge(VidhookError):
    """The request body is larger than this server accepts."""

    status_code = 413
    code = "payload_too_large"


class UnreadablePayload(VidhookError):
    """The JSON body is not in the shape this provider sends."""

    status_code = 422
    code = "unreadable_payload"


class RateLimited(VidhookError):
    """Too many requests; slow down."""

    status_code = 429
    code = "rate_limited"

    def __init__(self, message: str | None = None, *, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class UpstreamError(VidhookError):
    """The provider answered with an error."""

    status_code = 502
    code = "upstream_error"

    def __init__(self, message: str | None = None, *, status_code: int, code: str) -> None:
        super().__init__(message, code=code)
        self.status_code = status_code


class StoreUnavailable(VidhookError):
    """The store cannot commit right now; nothing was acknowledged, try again."""

    status_code = 503
    code = "store_unavailable"


class Unreachable(VidhookError):
    """The store or the running vidhook cannot be reached."""

    status_code = 503
    code = "unreachable"


class ConfigError(VidhookError):
    """The configuration is invalid."""

    code = "invalid_config"


class StoreDamaged(StoreUnavailable):
    """The database file is damaged; vidhook will not start on it."""


class ArchiveFailed(VidhookError):
    """The video could not be archived."""

    status_code = 502
    code = "archive_failed"
    retryable = False


class ArchiveFinal(ArchiveFailed):
    """The video cannot be archived, and retrying will not change that."""

    code = "archive_refused"


class ArchiveTooLarge(ArchiveFinal):
    """The video is larger than [archive].max_bytes allows; raise max_bytes to keep it."""

    code = "too_large"


class ArchiveRetryable(ArchiveFailed):
    """The video could not be archived this time; a later try may succeed."""

    code = "archive_unavailable"
    retryable = True
