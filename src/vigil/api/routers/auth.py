"""Sign in and out (browser sessions with a CSRF token) and API tokens for machines."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from vigil.api.deps import Ctx, CurrentPrincipal
from vigil.api.routing import Example, endpoint
from vigil.api.schemas import LoginIn, LoginOut, MeOut, TokenIn, TokenOut
from vigil.governance.roles import Principal
from vigil.http.session import sign_in, sign_out

router = APIRouter(prefix="/auth", tags=["auth"])


def _me(p: Principal) -> MeOut:
    return MeOut(username=p.username, role=p.role, cameras=None if p.cameras is None else sorted(p.cameras), via=p.via)


@endpoint(
    router,
    "POST",
    "/login",
    action=None,
    scope="public",
    example=Example(json={"username": "nobody", "password": "wrong password"}, ok=(401,)),
)
def login(body: LoginIn, request: Request, response: Response, ctx: Ctx) -> LoginOut:
    """Check a password; sets the session cookie and returns the CSRF token to send as X-CSRF-Token."""
    result = sign_in(ctx.auth, ctx.config, request, response, body.username, body.password)
    return LoginOut(**_me(result.principal).model_dump(), csrf_token=result.csrf_token, expires_at=result.expires_at)


@endpoint(router, "POST", "/logout", action=None, scope="self", status_code=204, example=Example(ok=(204,)))
def logout(request: Request, response: Response, ctx: Ctx, principal: CurrentPrincipal) -> None:
    sign_out(ctx.auth, ctx.config, request, response, principal)


@endpoint(router, "GET", "/me", action=None, scope="self")
def me(principal: CurrentPrincipal) -> MeOut:
    return _me(principal)


@endpoint(
    router,
    "POST",
    "/tokens",
    action=None,
    scope="self",
    status_code=201,
    example=Example(json={"name": "matrix", "days": 1}, ok=(201,)),
)
def create_token(body: TokenIn, ctx: Ctx, principal: CurrentPrincipal) -> TokenOut:
    """Issue an API token acting as you (same role and scope); it is shown only once."""
    token, record = ctx.auth.issue_token(principal, body.name, body.days)
    return TokenOut(token=token, token_id=record.token_id, name=record.name, expires_at=record.expires_at)
