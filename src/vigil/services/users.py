"""Users and API tokens: the one home of their rules, for the API, the web UI and the CLI.

* Only admins manage users; anyone else's attempt (a viewer making itself admin) is refused and
  recorded as ``access.denied`` naming the change asked for.
* Only someone who proved their password mints tokens (a browser session or ``vigil login``):
  a bearer token cannot create tokens, so a stolen token cannot outlive its own expiry or
  revocation. Token lifetimes are bounded by ``governance.auth.token_max_days``.
* Everyone lists and revokes their own tokens; admins list and revoke anyone's. A revoked token
  is refused from the next request on (every request looks the token up).
* The first admin of a fresh deployment is created from the command line without signing in
  (there is nobody to sign in as); it is recorded as ``system:bootstrap`` with the OS account.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from vigil.core.clock import utcnow
from vigil.core.errors import AccessDeniedError, ConflictError, NotFoundError, PolicyError
from vigil.governance.auth import USERNAME_PATTERN
from vigil.governance.roles import Role, check_role
from vigil.services.actor import Actor, system_actor_name
from vigil.services.context import Services
from vigil.store.audit import AuditEntry
from vigil.store.auth import TokenRecord
from vigil.store.users import UserRecord

BOOTSTRAP = system_actor_name("bootstrap")


class UserView(BaseModel):
    """A user account as every door shows it (never its password hash)."""

    username: str
    role: Role
    cameras: list[str] | None = Field(description="None: every camera.")
    disabled: bool
    created_at: datetime


class TokenView(BaseModel):
    """An API token as listed (never its secret)."""

    token_id: str
    username: str
    name: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    active: bool = Field(description="Neither revoked nor expired.")


class IssuedToken(TokenView):
    token: str = Field(description="Shown once; send as 'Authorization: Bearer <token>'.")


def user_view(u: UserRecord) -> UserView:
    return UserView(
        username=u.username,
        role=check_role(u.role),
        cameras=None if u.cameras is None else list(u.cameras),
        disabled=u.disabled,
        created_at=u.created_at,
    )


def _token_view(services: Services, t: TokenRecord, username: str | None = None) -> TokenView:
    if username is None:
        owner = services.store.governance.users.get(t.user_id)
        username = owner.username if owner is not None else "(deleted)"
    return TokenView(
        token_id=t.token_id,
        username=username,
        name=t.name,
        created_at=t.created_at,
        expires_at=t.expires_at,
        revoked_at=t.revoked_at,
        active=t.revoked_at is None and t.expires_at > utcnow(),
    )


def _check_new_user(username: str, role: str) -> Role:
    """The role, once the name is allowed (the password length is checked when it is hashed)."""
    if not re.fullmatch(USERNAME_PATTERN, username):
        raise PolicyError(
            f"user name {username!r} is not allowed: 2-63 lower-case letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return check_role(role)


# -- users -------------------------------------------------------------------------------
def list_users(services: Services, actor: Actor) -> list[UserView]:
    services.recorder(actor).allow("users.manage", object_type="users")
    return [user_view(u) for u in services.store.governance.users.list()]


def add_user(
    services: Services,
    actor: Actor,
    username: str,
    password: str,
    role: str,
    cameras: tuple[str, ...] | None,
) -> UserView:
    """Create a user (argon2id hash), audited in the same transaction.

    Raises:
        AccessDeniedError: ``actor`` is not an admin (recorded).
        PolicyError: bad user name, short password or unknown role.
        ConflictError: the name is taken.
    """
    rec = services.recorder(actor)
    rec.allow("users.manage", object_type="user", object_id=username, role=role)
    checked = _check_new_user(username, role)
    entry = rec.entry(
        "user.create",
        object_type="user",
        object_id=username,
        role=checked,
        cameras=None if cameras is None else sorted(cameras),
    )
    return _add(services, username, password, checked, cameras, entry)


def _add(
    services: Services, username: str, password: str, role: Role, cameras: tuple[str, ...] | None, entry: AuditEntry
) -> UserView:
    user = services.store.governance.users.add(
        username, password_hash=services.auth.passwords.hash(password), role=role, cameras=cameras, audit=entry
    )
    return user_view(user)


def needs_bootstrap(services: Services) -> bool:
    """True while the deployment has no admin account (only then may one be made unsigned)."""
    return not any(u.role == "admin" and not u.disabled for u in services.store.governance.users.list())


def bootstrap_admin(services: Services, username: str, password: str, *, os_user: str) -> UserView:
    """Create the first admin of a deployment that has none (``vigil users add`` before anyone
    can sign in; ``vigil demo --serve``). Recorded as ``system:bootstrap`` with the OS account.

    Raises:
        PolicyError: an admin exists already (sign in as an admin instead), or bad input.
    """
    if not needs_bootstrap(services):
        raise PolicyError("an admin account exists already: sign in as an admin (vigil login) to manage users")
    checked = _check_new_user(username, "admin")
    entry = AuditEntry(
        actor=BOOTSTRAP,
        action="user.create",
        object_type="user",
        object_id=username,
        detail={"via": "cli", "os_user": os_user, "role": checked, "cameras": None, "bootstrap": True},
    )
    return _add(services, username, password, checked, None, entry)


def update_user(
    services: Services,
    actor: Actor,
    username: str,
    *,
    role: str | None = None,
    cameras: tuple[str, ...] | bool | None = False,
    disabled: bool | None = None,
) -> UserView:
    """Change a user's role, camera scope (``False``: unchanged, ``None``: every camera) or
    disabled flag (disabling ends their sessions).

    Raises:
        AccessDeniedError: ``actor`` is not an admin (recorded with the change asked for).
        PolicyError: unknown role; an admin taking away the last active admin.
        NotFoundError: no such user.
    """
    changes: dict[str, Any] = {}
    if role is not None:
        changes["role"] = role
    if cameras is not False:
        changes["cameras"] = None if cameras is None or cameras is True else sorted(cameras)
    if disabled is not None:
        changes["disabled"] = disabled
    rec = services.recorder(actor)
    rec.allow("users.manage", object_type="user", object_id=username, changes=changes)
    if role is not None:
        check_role(role)
    _keep_an_admin(services, username, role, disabled)
    user = services.store.governance.users.update(
        username,
        role=role,
        cameras=cameras,
        disabled=disabled,
        audit=rec.entry("user.update", object_type="user", object_id=username, changes=changes),
    )
    return user_view(user)


def _keep_an_admin(services: Services, username: str, role: str | None, disabled: bool | None) -> None:
    demotes = (role is not None and role != "admin") or disabled is True
    if not demotes:
        return
    admins = [u for u in services.store.governance.users.list() if u.role == "admin" and not u.disabled]
    if [u.username for u in admins] == [username]:
        raise PolicyError(f"{username} is the last active admin; make another admin first")


# -- tokens ------------------------------------------------------------------------------
def create_token(services: Services, actor: Actor, name: str, days: float) -> IssuedToken:
    """A new token acting as ``actor`` (same role and scope), shown once.

    Raises:
        AccessDeniedError: ``actor`` signed in with a token (recorded): only a password
            sign-in mints tokens.
        PolicyError: a lifetime outside (0, token_max_days].
    """
    try:
        token, record = services.auth.issue_token(actor, name.strip() or "token", days)
    except AccessDeniedError as exc:
        services.recorder(actor).refused("token.create", exc, object_type="token", name=name, days=days)
        raise
    view = _token_view(services, record, actor.username)
    return IssuedToken(**view.model_dump(), token=token)


def list_tokens(services: Services, actor: Actor, *, username: str | None = None) -> list[TokenView]:
    """``actor``'s own tokens; an admin may name another user (``username``) or ask for all ("*").

    Raises:
        AccessDeniedError: someone else's tokens asked for by a non-admin (recorded).
        NotFoundError: no such user.
    """
    if username is None or username == actor.username:
        return [
            _token_view(services, t, actor.username) for t in services.store.governance.auth.list_tokens(actor.user_id)
        ]
    services.recorder(actor).allow("users.manage", object_type="tokens", object_id=username)
    if username == "*":
        return [_token_view(services, t) for t in services.store.governance.auth.list_tokens()]
    user = services.store.governance.users.by_username(username)
    if user is None:
        raise NotFoundError(f"no user {username!r}")
    return [_token_view(services, t, user.username) for t in services.store.governance.auth.list_tokens(user.user_id)]


def revoke_token(services: Services, actor: Actor, token_id: str) -> TokenView:
    """Revoke a token: one's own, or anyone's for an admin. It stops working at once.

    Raises:
        NotFoundError: no such token.
        AccessDeniedError: someone else's token, by a non-admin (recorded).
        ConflictError: already revoked.
    """
    record = services.store.governance.auth.get_token(token_id)
    if record is None:
        raise NotFoundError(f"no token {token_id!r} (see the token list)")
    if record.user_id != actor.user_id:
        services.recorder(actor).allow("users.manage", object_type="token", object_id=token_id)
    if record.revoked_at is not None:
        raise ConflictError(f"token {token_id} was revoked already at {record.revoked_at.isoformat()}")
    owner = services.store.governance.users.get(record.user_id)
    owner_name = owner.username if owner is not None else "(deleted)"
    revoked = services.store.governance.auth.revoke_token(
        token_id,
        at=utcnow(),
        audit=services.recorder(actor).entry(
            "token.revoke", object_type="token", object_id=token_id, owner=owner_name, name=record.name
        ),
    )
    if revoked is None:  # deleted between the read and the write
        raise NotFoundError(f"no token {token_id!r} (see the token list)")
    return _token_view(services, revoked, owner_name)
