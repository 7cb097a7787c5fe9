"""User administration (admins only; every change audited)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from vigil.api.deps import Audit, Ctx
from vigil.api.routing import Example, endpoint
from vigil.api.schemas import UserIn, UserOut, UserPatch
from vigil.governance.roles import check_role
from vigil.store.users import UserRecord

router = APIRouter(prefix="/users", tags=["users"])


def _out(u: UserRecord) -> UserOut:
    return UserOut(
        username=u.username,
        role=check_role(u.role),
        cameras=None if u.cameras is None else list(u.cameras),
        disabled=u.disabled,
        created_at=u.created_at,
    )


@endpoint(router, "GET", "", action="users.manage", scope="global")
def list_users(ctx: Ctx) -> list[UserOut]:
    return [_out(u) for u in ctx.store.governance.users.list()]


@endpoint(
    router,
    "POST",
    "",
    action="users.manage",
    scope="global",
    status_code=201,
    example=Example(json={"username": "matrix-new", "password": "a long password 1", "role": "viewer"}, ok=(201, 409)),
)
def add_user(body: UserIn, ctx: Ctx, audit: Audit) -> UserOut:
    cams = None if body.cameras is None else tuple(body.cameras)
    return _out(ctx.auth.add_user(body.username, body.password, body.role, cams, actor=audit.principal.username))


@endpoint(
    router,
    "PATCH",
    "/{username}",
    action="users.manage",
    scope="global",
    example=Example(path={"username": "{user}"}, json={"role": "viewer"}),
)
def update_user(
    username: Annotated[str, Path(min_length=1, max_length=64)], body: UserPatch, ctx: Ctx, audit: Audit
) -> UserOut:
    """Change a user's role, camera scope or disabled flag (disabling ends their sessions)."""
    cameras: tuple[str, ...] | bool | None = False
    if body.all_cameras:
        cameras = None
    elif body.cameras is not None:
        cameras = tuple(body.cameras)
    changes = body.model_dump(exclude_unset=True)
    return _out(
        ctx.store.governance.users.update(
            username,
            role=body.role,
            cameras=cameras,
            disabled=body.disabled,
            audit=audit.entry("user.update", object_type="user", object_id=username, changes=changes),
        )
    )
