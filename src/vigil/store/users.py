"""User accounts: name, password hash, role and camera scope."""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import JSON, String, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from vigil.core.clock import utcnow
from vigil.core.errors import ConflictError, NotFoundError
from vigil.core.ids import new_id
from vigil.store.audit import AuditEntry, maybe_audit
from vigil.store.auth import SessionRow
from vigil.store.session import _transaction
from vigil.store.tables import Base, UTCDateTime


class UserRow(Base):
    __tablename__ = "users"

    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16))
    cameras: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    disabled: Mapped[bool]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


@dataclass(frozen=True, slots=True)
class UserRecord:
    user_id: str
    username: str
    password_hash: str
    role: str
    cameras: tuple[str, ...] | None
    disabled: bool
    created_at: datetime


class UserRepository:
    def __init__(self, sessions: sessionmaker[Session], write_sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._write_sessions = write_sessions

    def add(
        self,
        username: str,
        *,
        password_hash: str,
        role: str,
        cameras: tuple[str, ...] | None,
        audit: AuditEntry | None = None,
    ) -> UserRecord:
        """Create a user.

        Raises:
            ConflictError: the user name is taken.
        """
        try:
            with _transaction(self._write_sessions, f"adding user {username}") as session:
                if session.scalar(select(UserRow.user_id).where(UserRow.username == username)) is not None:
                    raise ConflictError(f"user {username!r} exists already")
                row = UserRow(
                    user_id=new_id(),
                    username=username,
                    password_hash=password_hash,
                    role=role,
                    cameras=None if cameras is None else list(cameras),
                    disabled=False,
                    created_at=utcnow(),
                )
                session.add(row)
                session.flush()
                maybe_audit(session, audit)
                return _user_record(row)
        except IntegrityError as exc:  # pragma: no cover - a concurrent add of the same name
            raise ConflictError(f"user {username!r} exists already") from exc

    def get(self, user_id: str) -> UserRecord | None:
        with _transaction(self._sessions, "reading a user") as session:
            row = session.get(UserRow, user_id)
            return None if row is None else _user_record(row)

    def by_username(self, username: str) -> UserRecord | None:
        with _transaction(self._sessions, "reading a user") as session:
            row = session.scalar(select(UserRow).where(UserRow.username == username))
            return None if row is None else _user_record(row)

    def list(self) -> builtins.list[UserRecord]:
        with _transaction(self._sessions, "listing users") as session:
            return [_user_record(row) for row in session.scalars(select(UserRow).order_by(UserRow.username))]

    def update(
        self,
        username: str,
        *,
        role: str | None = None,
        cameras: tuple[str, ...] | bool | None = False,
        disabled: bool | None = None,
        password_hash: str | None = None,
        audit: AuditEntry | None = None,
    ) -> UserRecord:
        """Change the given fields (``cameras=False`` leaves the scope alone; None means every camera).

        Raises:
            NotFoundError: no such user.
        """
        with _transaction(self._write_sessions, f"updating user {username}") as session:
            row = session.scalar(select(UserRow).where(UserRow.username == username).with_for_update())
            if row is None:
                raise NotFoundError(f"no user {username!r}")
            if role is not None:
                row.role = role
            if cameras is not False:
                row.cameras = None if cameras is None or cameras is True else list(cameras)
            if disabled is not None:
                row.disabled = disabled
                if disabled:
                    session.execute(delete(SessionRow).where(SessionRow.user_id == row.user_id))
            if password_hash is not None:
                row.password_hash = password_hash
            session.flush()
            maybe_audit(session, audit)
            return _user_record(row)


def _user_record(row: UserRow) -> UserRecord:
    return UserRecord(
        user_id=row.user_id,
        username=row.username,
        password_hash=row.password_hash,
        role=row.role,
        cameras=None if row.cameras is None else tuple(row.cameras),
        disabled=row.disabled,
        created_at=row.created_at,
    )
