"""Every error the API returns, in one place: ``{"error": code, "message": human}``.

Vigil's exceptions map to HTTP statuses in :mod:`vigil.http.errors` (shared with the web UI);
request validation errors are 422 ``invalid_request``.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from vigil.core.errors import AccessDeniedError, RateLimitedError, VigilError
from vigil.http.errors import HttpError, status_and_code
from vigil.services.recorder import Recorder

log = logging.getLogger(__name__)


class ErrorBody(BaseModel):
    """The body of every 4xx/5xx response."""

    error: str
    message: str


ApiError = HttpError
"""An error raised by a handler with its status and machine-readable code."""


_STATUS_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "rate_limited",
}

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": code} for status, code in _STATUS_CODES.items()
}


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=status, headers=headers)


def record_refusal(request: Request, exc: AccessDeniedError) -> None:
    """Record a refusal no service recorded (a role check on the route, a camera out of scope)
    as ``access.denied`` naming the operation attempted, for a signed-in principal.

    A CSRF failure is not recorded against the account: a forged cross-site request is not theirs.
    """
    principal = getattr(request.state, "principal", None)
    if principal is None or exc.code == "csrf_failed":
        return
    route = request.scope.get("route")
    access = (getattr(route, "openapi_extra", None) or {}).get("x-vigil-access") or {}
    # The path as routed, its values named ("/api/users/{username}"): the route object may
    # carry only its router's part of the path.
    params = {k: str(v) for k, v in request.path_params.items()}
    template = "/".join(
        next((f"{{{k}}}" for k, v in params.items() if v == part), part) for part in request.url.path.split("/")
    )
    camera = exc.camera_id or params.get("camera_id") or request.query_params.get("camera_id")
    try:
        Recorder(request.app.state.vigil.store, principal).refused(
            access.get("action") or f"{request.method} {template}",
            exc,
            camera_id=camera,
            request=f"{request.method} {template}",
            params=params or None,
        )
    except VigilError as failure:  # the refusal still stands; the store is failing
        log.error("could not record a refused attempt (%s): %s", exc, failure)


def install_error_handlers(app: FastAPI) -> None:
    async def on_api_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HttpError)
        return error_response(exc.status, exc.code, exc.message)

    async def on_vigil_error(request: Request, exc: Exception) -> JSONResponse:
        status, code = status_and_code(exc)
        if isinstance(exc, AccessDeniedError) and not exc.recorded:
            record_refusal(request, exc)
        if status >= 500:
            log.error("request failed: %s", exc)
        headers = {"Retry-After": str(exc.retry_after_s)} if isinstance(exc, RateLimitedError) else None
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else headers
        return error_response(status, code, str(exc).splitlines()[0] if str(exc) else code, headers)

    async def on_validation(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = exc.errors()
        if not errors:
            return error_response(422, "invalid_request", "the request is not valid")
        first = errors[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        # A ValueError from a validator reads "Value error, <our message>": keep our message.
        message = str(first.get("msg", "invalid")).removeprefix("Value error, ")
        return error_response(422, "invalid_request", f"{where}: {message}{more}")

    async def on_http(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = _STATUS_CODES.get(exc.status_code, "error")
        return error_response(exc.status_code, code, str(exc.detail), dict(exc.headers or {}))

    app.add_exception_handler(HttpError, on_api_error)
    app.add_exception_handler(VigilError, on_vigil_error)
    app.add_exception_handler(ValueError, on_vigil_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
