"""Sign in and out (browser sessions with a CSRF token) and API tokens for machines."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from vigil.api.deps import Ctx, CurrentPrincipal
from vigil.api.routing import Example, endpoint
from vigil.api.schemas import LoginIn, LoginOut, MeOut, TokenIn
from vigil.governance.roles import Principal
from vigil.http.session import sign_in, sign_out
from vigil.services import users
from vigil.services.users import IssuedToken, TokenView

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
    # The matrix signs in with API tokens, and a token may not mint tokens (a password
    # sign-in may: tests/api/test_api_security.py and tests/governance/test_tokens.py).
    example=Example(json={"name": "matrix", "days": 1}, ok=(403,)),
)
def create_token(body: TokenIn, ctx: Ctx, principal: CurrentPrincipal) -> IssuedToken:
    """Issue an API token acting as you (same role and scope); it is shown only once. Only a
    password sign-in (a browser session) may do this: a request made with a token is refused."""
    return users.create_token(ctx.services, principal, body.name, body.days)


@endpoint(router, "GET", "/tokens", action=None, scope="self")
def list_tokens(
    ctx: Ctx,
    principal: CurrentPrincipal,
    username: Annotated[
        str | None, Query(max_length=64, description="Another user's tokens (admins); '*' for everyone's.")
    ] = None,
) -> list[TokenView]:
    """Your API tokens (never their secrets); admins may list anyone's."""
    return users.list_tokens(ctx.services, principal, username=username)


@endpoint(
    router,
    "DELETE",
    "/tokens/{token_id}",
    action=None,
    scope="self",
    example=Example(path={"token_id": "no-such-token"}, ok=(404,)),
)
def revoke_token(
    token_id: Annotated[str, Path(min_length=1, max_length=64)], ctx: Ctx, principal: CurrentPrincipal
) -> TokenView:
    """Revoke a token (yours, or anyone's as an admin): it is refused from the next request on."""
    return users.revoke_token(ctx.services, principal, token_id)
