"""Vigil's cookies (the session, the sign-in form's CSRF token, one-time messages): one rule for
their flags, so none is ever sent in clear over a connection that came in over TLS.

Every cookie is ``HttpOnly`` (scripts never read it) and ``SameSite=Strict`` (another site's
page cannot make the browser send it). It is ``Secure`` when the request came over HTTPS,
directly or through a trusted proxy (:mod:`vigil.http.proxies` sets the scheme), or always when
``governance.auth.cookie_secure`` says so.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from vigil.config import VigilConfig


def is_secure(request: Request, config: VigilConfig) -> bool:
    """Whether cookies set in answer to ``request`` must be ``Secure``."""
    return config.governance.auth.cookie_secure or request.url.scheme == "https"


def set_private_cookie(
    response: Response, request: Request, config: VigilConfig, name: str, value: str, *, max_age: int, path: str = "/"
) -> None:
    """Set ``name`` with Vigil's flags (see the module docstring)."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=path,
        httponly=True,
        samesite="strict",
        secure=is_secure(request, config),
    )


def clear_cookie(response: Response, request: Request, config: VigilConfig, name: str, *, path: str = "/") -> None:
    """Remove ``name`` (with the same flags, so browsers accept the removal)."""
    response.delete_cookie(name, path=path, httponly=True, samesite="strict", secure=is_secure(request, config))
