"""Authentication: passwords → browser sessions (with a CSRF token), and API tokens for machines.

Secrets (session cookies, API tokens) are random and stored only as SHA-256 hashes; login
attempts are locked out per (user name, address) with backoff (see ``login_throttle``),
recorded and audited.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from vigil.config.governance import AuthConfig
from vigil.core.clock import utcnow
from vigil.core.errors import AccessDeniedError, AuthenticationError, PolicyError, RateLimitedError
from vigil.governance.login_throttle import LoginThrottle, Refused
from vigil.governance.passwords import Passwords
from vigil.governance.roles import Principal, check_role
from vigil.store.audit import AuditEntry
from vigil.store.auth import TokenRecord
from vigil.store.governance import GovernanceStore
from vigil.store.users import UserRecord

TOKEN_PREFIX = "vgl_"
USERNAME_PATTERN = r"^[a-z0-9][a-z0-9_.-]{1,62}$"


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class LoginResult:
    principal: Principal
    session_secret: str
    csrf_token: str
    expires_at: datetime


def principal_of(user: UserRecord, via: str) -> Principal:
    return Principal(
        user_id=user.user_id,
        username=user.username,
        role=check_role(user.role),
        cameras=None if user.cameras is None else frozenset(user.cameras),
        via=via,
    )


class AuthService:
    """Logins, sessions, tokens and users, every change audited in its own transaction."""

    def __init__(self, store: GovernanceStore, config: AuthConfig) -> None:
        self._store = store
        self._config = config
        self.passwords = Passwords(config)
        self.throttle = LoginThrottle(store.logins, config)

    # -- users ---------------------------------------------------------------------------
    def add_user(
        self, username: str, password: str, role: str, cameras: tuple[str, ...] | None, *, actor: str
    ) -> UserRecord:
        """Create a user (argon2id hash).

        Raises:
            PolicyError: unknown role, bad user name or short password.
            ConflictError: the name is taken.
        """
        if not re.fullmatch(USERNAME_PATTERN, username):
            raise PolicyError(f"user name {username!r} must match {USERNAME_PATTERN}")
        check_role(role)
        audit = AuditEntry(
            actor=actor,
            action="user.create",
            object_type="user",
            object_id=username,
            detail={"role": role, "cameras": None if cameras is None else sorted(cameras)},
        )
        return self._store.users.add(
            username, password_hash=self.passwords.hash(password), role=role, cameras=cameras, audit=audit
        )

    # -- sessions ------------------------------------------------------------------------
    def _check_password(self, username: str, password: str, remote: str) -> UserRecord:
        """The user whose password this is, through the login throttle (recorded either way).

        Raises:
            RateLimitedError: this name is locked out from this address, or a guard applies
                (:mod:`vigil.governance.login_throttle`); the password is not checked.
            AuthenticationError: wrong name or password, or a disabled user (one message for all).
        """
        now = utcnow()
        admission = self.throttle.admit(username, remote, now)
        if isinstance(admission, Refused):
            # Refused unread: this attempt is recorded and audited but does not extend the lock.
            self._store.auth.record_attempt(
                username,
                remote,
                ok=False,
                audit=AuditEntry(actor=username[:128], action="login.refused", detail={"remote": remote}),
            )
            raise RateLimitedError(admission.message, admission.retry_after_s)
        user = self._store.users.by_username(username)
        ok = self.passwords.verify(None if user is None else user.password_hash, password)
        if user is None or not ok or user.disabled:
            self._store.auth.record_attempt(
                username,
                remote,
                ok=False,
                audit=AuditEntry(actor=username[:128], action="login.failed", detail={"remote": remote}),
            )
            raise AuthenticationError("wrong user name or password", "bad_credentials")
        self.throttle.succeeded(admission, now)
        self._store.auth.record_attempt(username, remote, ok=True)
        return user

    def login(self, username: str, password: str, remote: str) -> LoginResult:
        """Check a password and open a session.

        Raises:
            RateLimitedError: locked out (see :meth:`_check_password`).
            AuthenticationError: wrong name or password, or a disabled user (one message for all).
        """
        user = self._check_password(username, password, remote)
        session_secret = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        expires = utcnow() + timedelta(seconds=self._config.session_ttl_s)
        self._store.auth.create_session(
            secret_hash(session_secret),
            user_id=user.user_id,
            csrf_token=csrf,
            expires_at=expires,
            audit=AuditEntry(actor=user.username, action="login", detail={"remote": remote, "via": "session"}),
        )
        return LoginResult(principal_of(user, "session"), session_secret, csrf, expires)

    def sign_in_token(
        self, username: str, password: str, remote: str, *, name: str, days: float, via: str = "cli"
    ) -> tuple[str, TokenRecord]:
        """Check a password and issue an API token in place of a session (``vigil login``).

        Raises:
            RateLimitedError: locked out (see :meth:`_check_password`).
            AuthenticationError: wrong name or password, or a disabled user.
            PolicyError: a lifetime beyond the configured maximum (checked before the password).
        """
        self._check_days(days)
        user = self._check_password(username, password, remote)
        return self._issue(principal_of(user, via), name, days, remote=remote)

    def logout(self, session_secret: str, principal: Principal) -> None:
        self._store.auth.delete_session(
            secret_hash(session_secret), audit=AuditEntry(actor=principal.username, action="logout")
        )

    def session(self, session_secret: str) -> tuple[Principal, str]:
        """The principal and CSRF token of a session cookie.

        Raises:
            AuthenticationError: unknown or expired session, or a disabled user.
        """
        record = self._store.auth.get_session(secret_hash(session_secret))
        if record is None:
            raise AuthenticationError("not signed in (unknown session)", "invalid_session")
        if record.expires_at <= utcnow():
            raise AuthenticationError("your session has expired; sign in again", "session_expired")
        return self._active(record.user_id, "session"), record.csrf_token

    # -- API tokens ----------------------------------------------------------------------
    def issue_token(self, principal: Principal, name: str, days: float) -> tuple[str, TokenRecord]:
        """A new API token for ``principal`` (shown once; only its hash is kept).

        Only someone who proved their password may mint tokens (a browser session, or
        :meth:`sign_in_token`): a token that could mint tokens would outlive its own expiry and
        revocation, so a principal that authenticated with a token is refused.

        Raises:
            AccessDeniedError: ``principal`` signed in with an API token (``token_mints_token``).
            PolicyError: a lifetime beyond the configured maximum.
        """
        if principal.via != "session":
            raise AccessDeniedError(
                "an API token cannot create tokens: sign in with your password (web UI, POST /api/auth/login, "
                "or vigil login)",
                "token_mints_token",
            )
        self._check_days(days)
        return self._issue(principal, name, days, remote=None)

    def _check_days(self, days: float) -> None:
        if not 0 < days <= self._config.token_max_days:
            raise PolicyError(f"a token lives between 0 and {self._config.token_max_days} days, got {days:g}")

    def _issue(self, principal: Principal, name: str, days: float, *, remote: str | None) -> tuple[str, TokenRecord]:
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        detail: dict[str, object] = {"name": name, "via": principal.via, "days": days}
        if remote is not None:
            detail["remote"] = remote
        record = self._store.auth.add_token(
            secret_hash(token),
            user_id=principal.user_id,
            name=name,
            expires_at=utcnow() + timedelta(days=days),
            audit=AuditEntry(actor=principal.username, action="token.create", object_type="token", detail=detail),
        )
        return token, record

    def token_record(self, token: str) -> TokenRecord | None:
        """The stored record of a token's secret (None when unknown or malformed)."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        return self._store.auth.token_by_hash(secret_hash(token))

    def token(self, token: str) -> Principal:
        """The principal behind an API token.

        Raises:
            AuthenticationError: malformed, unknown (forged), revoked or expired token.
        """
        if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            raise AuthenticationError("malformed API token", "invalid_token")
        record = self._store.auth.token_by_hash(secret_hash(token))
        if record is None:
            raise AuthenticationError("unknown API token", "invalid_token")
        if record.revoked_at is not None:
            raise AuthenticationError("this API token was revoked", "invalid_token")
        if record.expires_at <= utcnow():
            raise AuthenticationError("this API token has expired", "token_expired")
        return self._active(record.user_id, "token")

    def _active(self, user_id: str, via: str) -> Principal:
        user = self._store.users.get(user_id)
        if user is None or user.disabled:
            raise AuthenticationError("this account is disabled or gone", "account_disabled")
        return principal_of(user, via)


def csrf_matches(expected: str, given: str | None) -> bool:
    """Constant-time comparison of the session's CSRF token with the request's header."""
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())
