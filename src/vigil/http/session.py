"""Browser sessions, shared by the API and the web UI: the cookie, the CSRF rule, sign-in and
sign-out. A session is established by a password (with the per-account and per-address lockout
of :class:`vigil.governance.auth.AuthService`), kept in an HttpOnly cookie, and every change a
signed-in browser asks for must carry the session's CSRF token (a header for the API, a hidden
form field for the web UI)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from vigil.config import VigilConfig
from vigil.governance.auth import AuthService, LoginResult
from vigil.governance.roles import Principal
from vigil.http.cookies import clear_cookie, set_private_cookie

SESSION_COOKIE = "vigil_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def remote_address(request: Request) -> str:
    """Who is asking (the trusted-proxy middleware has already put the client's address here)."""
    return request.client.host if request.client else "unknown"


def sign_in(
    auth: AuthService, config: VigilConfig, request: Request, response: Response, username: str, password: str
) -> LoginResult:
    """Check a password and set the session cookie on ``response``.

    Raises:
        AuthenticationError: wrong password, unknown or disabled account.
        RateLimitedError: too many failures for this account or address.
    """
    result = auth.login(username, password, remote_address(request))
    set_private_cookie(
        response,
        request,
        config,
        SESSION_COOKIE,
        result.session_secret,
        max_age=config.governance.auth.session_ttl_s,
    )
    return result


def session_of(auth: AuthService, request: Request) -> tuple[Principal, str] | None:
    """The signed-in principal and CSRF token of the request's session cookie; None without one.

    Raises:
        AuthenticationError: an unknown, forged or expired session.
    """
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    return auth.session(cookie)


def sign_out(
    auth: AuthService, config: VigilConfig, request: Request, response: Response, principal: Principal
) -> None:
    """End the request's session (if any) and clear its cookie on ``response``."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        auth.logout(cookie, principal)
    clear_cookie(response, request, config, SESSION_COOKIE)
