"""Browser sessions, API tokens (stored as SHA-256 hashes only) and login attempts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, delete, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from vigil.core.clock import utcnow
from vigil.core.ids import new_id
from vigil.store.audit import AuditEntry, maybe_audit, with_object
from vigil.store.session import _transaction
from vigil.store.tables import Base, UTCDateTime


class ApiTokenRow(Base):
    __tablename__ = "api_tokens"

    token_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), ForeignKey("users.user_id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class SessionRow(Base):
    __tablename__ = "sessions"

    session_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), ForeignKey("users.user_id", ondelete="CASCADE"))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class LoginAttemptRow(Base):
    __tablename__ = "login_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64))
    remote: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    ok: Mapped[bool]

    __table_args__ = (
        Index("ix_login_attempts_username_at", "username", "at"),
        Index("ix_login_attempts_remote_at", "remote", "at"),
    )


@dataclass(frozen=True, slots=True)
class TokenRecord:
    token_id: str
    user_id: str
    name: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class SessionRecord:
    user_id: str
    csrf_token: str
    created_at: datetime
    expires_at: datetime


class AuthRepository:
    """Browser sessions, API tokens (stored as SHA-256 hashes only) and login attempts."""

    def __init__(self, sessions: sessionmaker[Session], write_sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._write_sessions = write_sessions

    def record_attempt(self, username: str, remote: str, *, ok: bool, audit: AuditEntry | None = None) -> None:
        with _transaction(self._write_sessions, "recording a login attempt") as session:
            session.add(LoginAttemptRow(username=username[:64], remote=remote[:64], at=utcnow(), ok=ok))
            maybe_audit(session, audit)

    def failures_since(self, username: str, remote: str, since: datetime) -> int:
        """Failed attempts at or after ``since`` for this user name or from this address (the larger)."""
        worst = 0
        for column, value in ((LoginAttemptRow.username, username[:64]), (LoginAttemptRow.remote, remote[:64])):
            stmt = (
                select(func.count())
                .select_from(LoginAttemptRow)
                .where(column == value, LoginAttemptRow.at >= since, LoginAttemptRow.ok.is_(False))
            )
            with _transaction(self._sessions, "counting login failures") as session:
                worst = max(worst, session.scalar(stmt) or 0)
        return worst

    def create_session(
        self, session_hash: str, *, user_id: str, csrf_token: str, expires_at: datetime, audit: AuditEntry | None
    ) -> None:
        with _transaction(self._write_sessions, "opening a session") as session:
            session.add(
                SessionRow(
                    session_hash=session_hash,
                    user_id=user_id,
                    csrf_token=csrf_token,
                    created_at=utcnow(),
                    expires_at=expires_at,
                )
            )
            maybe_audit(session, audit)

    def get_session(self, session_hash: str) -> SessionRecord | None:
        with _transaction(self._sessions, "reading a session") as session:
            row = session.get(SessionRow, session_hash)
            if row is None:
                return None
            return SessionRecord(row.user_id, row.csrf_token, row.created_at, row.expires_at)

    def delete_session(self, session_hash: str, audit: AuditEntry | None = None) -> None:
        with _transaction(self._write_sessions, "closing a session") as session:
            session.execute(delete(SessionRow).where(SessionRow.session_hash == session_hash))
            maybe_audit(session, audit)

    def add_token(
        self,
        token_hash: str,
        *,
        user_id: str,
        name: str,
        expires_at: datetime,
        audit: AuditEntry | None,
    ) -> TokenRecord:
        with _transaction(self._write_sessions, "issuing an API token") as session:
            row = ApiTokenRow(
                token_id=new_id(),
                user_id=user_id,
                token_hash=token_hash,
                name=name,
                created_at=utcnow(),
                expires_at=expires_at,
                revoked_at=None,
            )
            session.add(row)
            session.flush()
            maybe_audit(session, None if audit is None else with_object(audit, row.token_id))
            return _token_record(row)

    def token_by_hash(self, token_hash: str) -> TokenRecord | None:
        with _transaction(self._sessions, "reading an API token") as session:
            row = session.scalar(select(ApiTokenRow).where(ApiTokenRow.token_hash == token_hash))
            return None if row is None else _token_record(row)

    def list_tokens(self, user_id: str | None = None) -> list[TokenRecord]:
        """Tokens (never their secrets), newest first; only ``user_id``'s when given."""
        stmt = select(ApiTokenRow).order_by(ApiTokenRow.created_at.desc(), ApiTokenRow.token_id)
        if user_id is not None:
            stmt = stmt.where(ApiTokenRow.user_id == user_id)
        with _transaction(self._sessions, "listing API tokens") as session:
            return [_token_record(row) for row in session.scalars(stmt)]

    def get_token(self, token_id: str) -> TokenRecord | None:
        with _transaction(self._sessions, "reading an API token") as session:
            row = session.get(ApiTokenRow, token_id)
            return None if row is None else _token_record(row)

    def revoke_token(self, token_id: str, *, at: datetime, audit: AuditEntry | None) -> TokenRecord | None:
        """Mark a token revoked (kept, so the list shows when); None if there is no such token.
        Revoking a revoked token keeps its first revocation time."""
        with _transaction(self._write_sessions, "revoking an API token") as session:
            row = session.get(ApiTokenRow, token_id)
            if row is None:
                return None
            if row.revoked_at is None:
                row.revoked_at = at
            session.flush()
            maybe_audit(session, audit)
            return _token_record(row)

    def purge_expired(self, now: datetime) -> int:
        """Delete expired sessions; returns how many."""
        with _transaction(self._write_sessions, "purging sessions") as session:
            result = session.execute(delete(SessionRow).where(SessionRow.expires_at < now))
            return int(getattr(result, "rowcount", 0) or 0)


def _token_record(row: ApiTokenRow) -> TokenRecord:
    return TokenRecord(row.token_id, row.user_id, row.name, row.created_at, row.expires_at, row.revoked_at)
