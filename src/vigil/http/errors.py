"""How Vigil's errors read over HTTP, for both doors on the web server (the API answers JSON,
the web UI an error page or its form again): one mapping, here.

    AuthenticationError        401  (code from the error: invalid_token, token_expired, …)
    RateLimitedError           429  rate_limited (+ Retry-After)
    AccessDeniedError          403  forbidden / out_of_scope / csrf_failed
    NotFoundError              404  not_found
    ConflictError              409  conflict
    PolicyError                422  policy_violation
    UploadTooLargeError        413  payload_too_large
    ReasonRequiredError        400  reason_required
    CameraRequiredError        400  camera_required
    UploadError                400  invalid_upload
    InputError, ValueError     400  invalid_input
    StoreError, DataDirError   503  store_unavailable
    HttpError                  its own status and code
"""

from __future__ import annotations

from vigil.core.errors import (
    AccessDeniedError,
    AuthenticationError,
    CameraRequiredError,
    ConflictError,
    DataDirError,
    InputError,
    NotFoundError,
    PolicyError,
    RateLimitedError,
    ReasonRequiredError,
    StoreError,
    UploadError,
    UploadTooLargeError,
    VigilError,
)


class HttpError(VigilError):
    """An error raised by a door on the web server with its HTTP status and machine-readable code
    (the API knows it as ``vigil.api.errors.ApiError``)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def status_and_code(exc: Exception) -> tuple[int, str]:
    """The HTTP status and error code for a Vigil (or plain value) error."""
    if isinstance(exc, HttpError):
        return exc.status, exc.code
    if isinstance(exc, RateLimitedError):
        return 429, exc.code
    if isinstance(exc, AuthenticationError):
        return 401, exc.code
    if isinstance(exc, AccessDeniedError):
        return 403, exc.code
    if isinstance(exc, NotFoundError):
        return 404, "not_found"
    if isinstance(exc, ConflictError):
        return 409, "conflict"
    if isinstance(exc, PolicyError):
        return 422, "policy_violation"
    if isinstance(exc, UploadTooLargeError):
        return 413, "payload_too_large"
    if isinstance(exc, ReasonRequiredError):
        return 400, "reason_required"
    if isinstance(exc, CameraRequiredError):
        return 400, "camera_required"
    if isinstance(exc, UploadError):
        return 400, "invalid_upload"
    if isinstance(exc, InputError | ValueError):
        return 400, "invalid_input"
    if isinstance(exc, StoreError | DataDirError):
        return 503, "store_unavailable"
    return 500, "internal_error"


def message_of(exc: BaseException) -> str:
    """The first line of an error's message (its class name when it has none)."""
    text = exc.message if isinstance(exc, HttpError) else str(exc)
    return text.splitlines()[0] if text else type(exc).__name__
