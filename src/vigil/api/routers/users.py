"""User administration (admins only; every change audited, every refusal too): a door onto
:mod:`vigil.services.users`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from vigil.api.deps import Ctx, CurrentPrincipal
from vigil.api.routing import Example, endpoint
from vigil.api.schemas import UserIn, UserPatch
from vigil.services import users
from vigil.services.users import UserView

router = APIRouter(prefix="/users", tags=["users"])


@endpoint(router, "GET", "", action="users.manage", scope="global")
def list_users(ctx: Ctx, principal: CurrentPrincipal) -> list[UserView]:
    return users.list_users(ctx.services, principal)


@endpoint(
    router,
    "POST",
    "",
    action="users.manage",
    scope="global",
    status_code=201,
    example=Example(json={"username": "matrix-new", "password": "a long password 1", "role": "viewer"}, ok=(201, 409)),
)
def add_user(body: UserIn, ctx: Ctx, principal: CurrentPrincipal) -> UserView:
    cams = None if body.cameras is None else tuple(body.cameras)
    return users.add_user(ctx.services, principal, body.username, body.password, body.role, cams)


@endpoint(
    router,
    "PATCH",
    "/{username}",
    action="users.manage",
    scope="global",
    example=Example(path={"username": "{user}"}, json={"role": "viewer"}),
)
def update_user(
    username: Annotated[str, Path(min_length=1, max_length=64)], body: UserPatch, ctx: Ctx, principal: CurrentPrincipal
) -> UserView:
    """Change a user's role, camera scope or disabled flag (disabling ends their sessions)."""
    cameras: tuple[str, ...] | bool | None = False
    if body.all_cameras:
        cameras = None
    elif body.cameras is not None:
        cameras = tuple(body.cameras)
    return users.update_user(ctx.services, principal, username, role=body.role, cameras=cameras, disabled=body.disabled)
