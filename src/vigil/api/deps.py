"""Request dependencies as ``Annotated`` aliases: the context, the principal, reasons, audit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Query, Request

from vigil.api.context import ApiContext
from vigil.api.errors import ApiError
from vigil.core.errors import AccessDeniedError, AuthenticationError
from vigil.governance.auth import csrf_matches
from vigil.governance.roles import Principal, require
from vigil.http.session import CSRF_HEADER, SAFE_METHODS, SESSION_COOKIE
from vigil.services.recorder import Recorder


def get_context(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.vigil
    return ctx


Ctx = Annotated[ApiContext, Depends(get_context)]


def get_principal(request: Request, ctx: Ctx) -> Principal:
    """Bearer API token, else session cookie (with the CSRF header on state-changing requests).

    Raises:
        AuthenticationError: no, unknown, forged or expired credentials.
        AccessDeniedError: a cookie-authenticated change without the right CSRF token.
    """
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationError("Authorization must be 'Bearer <API token>'", "invalid_token")
        principal = ctx.auth.token(token.strip())
        request.state.principal = principal
        return principal
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        raise AuthenticationError("sign in (POST /api/auth/login) or send an API token")
    principal, csrf = ctx.auth.session(cookie)
    if request.method not in SAFE_METHODS and not csrf_matches(csrf, request.headers.get(CSRF_HEADER)):
        # Not recorded as the account's refused attempt: a forged cross-site request is not theirs.
        raise AccessDeniedError(f"missing or wrong {CSRF_HEADER} header for a signed-in browser request", "csrf_failed")
    request.state.principal = principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def require_action(action: str) -> Callable[[Principal], Principal]:
    """A dependency that admits only roles allowed ``action`` (camera scope is checked per object)."""

    def check(principal: CurrentPrincipal) -> Principal:
        require(principal, action)
        return principal

    check.__name__ = f"require_{action.replace('.', '_')}"
    return check


ReasonQuery = Annotated[
    str | None,
    Query(max_length=500, description="Why you need this (recorded in the audit log; required for searches)."),
]


def need_reason(ctx: ApiContext, reason: str | None, what: str) -> str:
    """The stripped reason, or a 400 ``reason_required`` error."""
    text = (reason or "").strip()
    minimum = ctx.config.governance.min_reason_chars
    if len(text) < minimum:
        raise ApiError(400, "reason_required", f"{what} needs a reason (at least {minimum} characters)")
    return text


Auditor = Recorder
"""Writes audit records for the current principal (:class:`vigil.services.recorder.Recorder`)."""


def get_auditor(ctx: Ctx, principal: CurrentPrincipal) -> Auditor:
    return ctx.services.recorder(principal)


Audit = Annotated[Auditor, Depends(get_auditor)]


def scoped_camera(principal: Principal, camera_id: str | None) -> str | None:
    """The camera filter for a list: the given one if in scope; scoped users must name one."""
    if camera_id is not None:
        if not principal.sees(camera_id):
            raise AccessDeniedError(f"camera {camera_id!r} is outside your scope", "out_of_scope", camera_id=camera_id)
        return camera_id
    if principal.cameras is not None:
        raise ApiError(400, "camera_required", "your access is limited to some cameras: pass camera_id")
    return None
