"""Sign-in throttling state: one row per (user name, client address), shared by every API replica.

The state lives in the database, not in a process, so several API servers behind a load
balancer see the same lockouts. Rows change only by compare-and-set (``claim``), which works the
same on SQLite and PostgreSQL: of many concurrent attempts at a locked-out pair none gets through,
and of many at an open pair each takes one of the remaining tries. The rules (how many tries, how
long a lock) live in :mod:`vigil.governance.login_throttle`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Delete, Index, Integer, String, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from vigil.core.errors import StoreError
from vigil.store.session import _transaction
from vigil.store.tables import Base, UTCDateTime

KEY_CHARS = 64


class LoginThrottleRow(Base):
    __tablename__ = "login_throttle"

    username: Mapped[str] = mapped_column(String(KEY_CHARS), primary_key=True)
    remote: Mapped[str] = mapped_column(String(KEY_CHARS), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (
        Index("ix_login_throttle_remote_last_failure_at", "remote", "last_failure_at"),
        Index("ix_login_throttle_username_last_failure_at", "username", "last_failure_at"),
    )


@dataclass(frozen=True, slots=True)
class ThrottleState:
    """One (user name, address) pair: failures since its last success, and its lock."""

    username: str
    remote: str
    failures: int
    locked_until: datetime | None
    last_failure_at: datetime | None
    last_success_at: datetime | None


class LoginThrottleRepository:
    """Read and compare-and-set the throttle rows."""

    def __init__(self, sessions: sessionmaker[Session], write_sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._write_sessions = write_sessions

    def state(self, username: str, remote: str) -> ThrottleState | None:
        with _transaction(self._sessions, "reading sign-in throttling") as session:
            row = session.get(LoginThrottleRow, (username[:KEY_CHARS], remote[:KEY_CHARS]))
            return None if row is None else _state(row)

    def claim(
        self,
        username: str,
        remote: str,
        *,
        expected_failures: int | None,
        failures: int,
        locked_until: datetime | None,
        now: datetime,
    ) -> bool:
        """Count one more try at the pair, as a failure until :meth:`succeeded` says otherwise.

        Succeeds only if the row still holds ``expected_failures`` (None: no row yet) and is not
        locked at ``now``; a concurrent claim that got there first makes this one return False.
        """
        key = (username[:KEY_CHARS], remote[:KEY_CHARS])
        values = {"failures": failures, "locked_until": locked_until, "last_failure_at": now}
        try:
            with _transaction(self._write_sessions, "counting a sign-in attempt") as session:
                if expected_failures is None:
                    session.execute(insert(LoginThrottleRow).values(username=key[0], remote=key[1], **values))
                    return True
                result = session.execute(
                    update(LoginThrottleRow)
                    .where(
                        LoginThrottleRow.username == key[0],
                        LoginThrottleRow.remote == key[1],
                        LoginThrottleRow.failures == expected_failures,
                        or_(LoginThrottleRow.locked_until.is_(None), LoginThrottleRow.locked_until <= now),
                    )
                    .values(**values)
                )
                return int(getattr(result, "rowcount", 0) or 0) == 1
        except StoreError as exc:
            if isinstance(exc.__cause__, IntegrityError):
                return False  # another attempt inserted the row first
            raise

    def succeeded(self, username: str, remote: str, now: datetime) -> None:
        """The pair signed in: its failures are forgiven and any lock lifted."""
        with _transaction(self._write_sessions, "recording a sign-in") as session:
            session.execute(
                update(LoginThrottleRow)
                .where(LoginThrottleRow.username == username[:KEY_CHARS], LoginThrottleRow.remote == remote[:KEY_CHARS])
                .values(failures=0, locked_until=None, last_success_at=now)
            )

    def failures_from(self, remote: str, since: datetime) -> int:
        """Failures from one address, over every user name, in pairs that failed since ``since``."""
        return self._sum(LoginThrottleRow.remote == remote[:KEY_CHARS], since)

    def failures_for(self, username: str, since: datetime) -> int:
        """Failures at one user name, from every address, in pairs that failed since ``since``."""
        return self._sum(LoginThrottleRow.username == username[:KEY_CHARS], since)

    def _sum(self, where: object, since: datetime) -> int:
        stmt = select(func.coalesce(func.sum(LoginThrottleRow.failures), 0)).where(
            where,  # type: ignore[arg-type]
            LoginThrottleRow.last_failure_at >= since,
        )
        with _transaction(self._sessions, "counting sign-in failures") as session:
            return int(session.scalar(stmt) or 0)


def delete_idle(before: datetime) -> Delete:
    """The pairs with no attempt since ``before`` (retention deletes them with the login records;
    an address unused that long is no longer "known" to its account anyway)."""
    return delete(LoginThrottleRow).where(
        or_(LoginThrottleRow.last_failure_at.is_(None), LoginThrottleRow.last_failure_at < before),
        or_(LoginThrottleRow.last_success_at.is_(None), LoginThrottleRow.last_success_at < before),
    )


def _state(row: LoginThrottleRow) -> ThrottleState:
    return ThrottleState(
        row.username, row.remote, row.failures, row.locked_until, row.last_failure_at, row.last_success_at
    )
