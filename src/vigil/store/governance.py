"""Governance tables and their repositories: users, sessions, tokens, the audit chain, cases.

The audit log is append-only and hash-chained: record ``n`` stores ``prev_hash`` (the hash of
record ``n - 1``; 64 zeros for the first) and ``hash = sha256(prev_hash + canonical content)``,
where the canonical content includes ``seq``. Editing, deleting or reordering any record breaks
the chain at that record (see :func:`vigil.governance.audit.verify_chain`). Every change a
repository here makes takes an optional :class:`AuditEntry` that is written in the *same*
transaction, so a change is never stored without its record (nor a record without its change).
"""

from __future__ import annotations

import builtins
import hashlib
import json
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    delete,
    func,
    or_,
    select,
    text,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from vigil.core.clock import utcnow
from vigil.core.errors import ConflictError, NotFoundError
from vigil.core.ids import new_id
from vigil.store.candidates import CandidateRow
from vigil.store.session import _check_aware, _check_page, _transaction
from vigil.store.tables import Base, EventRow, PayloadJSON, TrackRow, UTCDateTime

GENESIS_HASH = "0" * 64
_AUDIT_LOCK_KEY = 0x5649_4749  # "VIGI": PostgreSQL advisory lock serialising chain appends


# -- tables -------------------------------------------------------------------------------


class UserRow(Base):
    __tablename__ = "users"

    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16))
    cameras: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    disabled: Mapped[bool]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


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


class AuditRow(Base):
    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str | None] = mapped_column(String(64), nullable=True)
    object_id: Mapped[str | None] = mapped_column(String(512), nullable=True)
    camera_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(PayloadJSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_audit_log_at", "at"),
        Index("ix_audit_log_actor_at", "actor", "at"),
        Index("ix_audit_log_action_at", "action", "at"),
    )


class CaseRow(Base):
    __tablename__ = "cases"

    case_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    legal_hold: Mapped[bool]
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CaseItemRow(Base):
    __tablename__ = "case_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(String(64), ForeignKey("cases.case_id", ondelete="CASCADE"))
    item_type: Mapped[str] = mapped_column(String(16))
    item_id: Mapped[str] = mapped_column(String(512))
    camera_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    added_by: Mapped[str] = mapped_column(String(128))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        UniqueConstraint("case_id", "item_type", "item_id"),
        Index("ix_case_items_item_type_item_id", "item_type", "item_id"),
    )


class PolicyRow(Base):
    __tablename__ = "policies"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_by: Mapped[str] = mapped_column(String(128))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class DeadLetterRow(Base):
    __tablename__ = "dead_letters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    error: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_dead_letters_created_at", "created_at"),)


# -- read models --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """What one audit record says: who did what to which object, and why."""

    actor: str
    action: str
    object_type: str | None = None
    object_id: str | None = None
    camera_id: str | None = None
    reason: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AuditRecord:
    seq: int
    at: datetime
    actor: str
    action: str
    object_type: str | None
    object_id: str | None
    camera_id: str | None
    reason: str | None
    detail: dict[str, Any]
    prev_hash: str
    hash: str


@dataclass(frozen=True, slots=True)
class UserRecord:
    user_id: str
    username: str
    password_hash: str
    role: str
    cameras: tuple[str, ...] | None
    disabled: bool
    created_at: datetime


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


@dataclass(frozen=True, slots=True)
class CaseItemRecord:
    item_type: str
    item_id: str
    camera_id: str | None
    added_by: str
    added_at: datetime


@dataclass(frozen=True, slots=True)
class CaseRecord:
    case_id: str
    name: str
    reason: str
    legal_hold: bool
    created_by: str
    created_at: datetime
    items: tuple[CaseItemRecord, ...]


@dataclass(frozen=True, slots=True)
class PolicyRecord:
    key: str
    value: Any
    updated_by: str
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class DeadLetterRecord:
    id: int
    channel: str
    target: str
    payload: dict[str, Any]
    error: str
    attempts: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class PurgeCutoffs:
    """Rows older than these (aware datetimes) are deleted unless a case on legal hold names them."""

    events_before: datetime
    tracks_before: datetime
    candidates_before: datetime
    dead_letters_before: datetime
    login_attempts_before: datetime


@dataclass(frozen=True, slots=True)
class PurgeResult:
    """Counts only (deletion is audited by count, never by content), plus the files to remove."""

    counts: dict[str, int]
    media_paths: tuple[str, ...]


# -- the audit chain ----------------------------------------------------------------------


def canonical_content(
    seq: int,
    at: datetime,
    entry: AuditEntry,
) -> str:
    """The exact text that is hashed for one record (sorted keys, no spaces, UTC microseconds)."""
    body = {
        "seq": seq,
        "at": at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "actor": entry.actor,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "camera_id": entry.camera_id,
        "reason": entry.reason,
        "detail": entry.detail,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def chain_hash(prev_hash: str, seq: int, at: datetime, entry: AuditEntry) -> str:
    """``sha256(prev_hash + canonical content)`` as hex."""
    return hashlib.sha256((prev_hash + canonical_content(seq, at, entry)).encode()).hexdigest()


def record_entry(record: AuditRecord) -> AuditEntry:
    """The content part of a stored record (what its hash covers, besides ``seq`` and ``at``)."""
    return AuditEntry(
        actor=record.actor,
        action=record.action,
        object_type=record.object_type,
        object_id=record.object_id,
        camera_id=record.camera_id,
        reason=record.reason,
        detail=record.detail,
    )


def append_audit(session: Session, entry: AuditEntry, now: datetime | None = None) -> AuditRecord:
    """Append ``entry`` to the chain inside ``session``'s transaction (so it commits with the change)."""
    if session.get_bind().dialect.name == "postgresql":
        # Two writers must not both chain onto the same head; SQLite writers are serialised already.
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _AUDIT_LOCK_KEY})
    last = session.execute(select(AuditRow.seq, AuditRow.hash).order_by(AuditRow.seq.desc()).limit(1)).first()
    seq, prev = (1, GENESIS_HASH) if last is None else (int(last[0]) + 1, str(last[1]))
    at = now or utcnow()
    digest = chain_hash(prev, seq, at, entry)
    row = AuditRow(
        seq=seq,
        at=at,
        actor=entry.actor,
        action=entry.action,
        object_type=entry.object_type,
        object_id=entry.object_id,
        camera_id=entry.camera_id,
        reason=entry.reason,
        detail=dict(entry.detail),
        prev_hash=prev,
        hash=digest,
    )
    session.add(row)
    session.flush()
    return _audit_record(row)


def _maybe_audit(session: Session, audit: AuditEntry | None) -> None:
    if audit is not None:
        append_audit(session, audit)


class AuditRepository:
    """Append to and read the audit chain."""

    def __init__(self, sessions: sessionmaker[Session], write_sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._write_sessions = write_sessions

    def append(self, entry: AuditEntry) -> AuditRecord:
        with _transaction(self._write_sessions, f"writing audit record {entry.action}") as session:
            return append_audit(session, entry)

    def count(self) -> int:
        with _transaction(self._sessions, "counting audit records") as session:
            return session.scalar(select(func.count()).select_from(AuditRow)) or 0

    def list(
        self,
        *,
        actor: str | None = None,
        action: str | None = None,
        object_id: str | None = None,
        object_ids: Collection[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> builtins.list[AuditRecord]:
        """Records matching every given filter, oldest first."""
        _check_page(limit, offset)
        _check_aware(since=since, until=until)
        stmt = select(AuditRow)
        if actor is not None:
            stmt = stmt.where(AuditRow.actor == actor)
        if action is not None:
            stmt = stmt.where(AuditRow.action == action)
        if object_id is not None:
            stmt = stmt.where(AuditRow.object_id == object_id)
        if object_ids is not None:
            stmt = stmt.where(AuditRow.object_id.in_(list(object_ids)[:1000]))
        if since is not None:
            stmt = stmt.where(AuditRow.at >= since)
        if until is not None:
            stmt = stmt.where(AuditRow.at < until)
        stmt = stmt.order_by(AuditRow.seq).limit(limit).offset(offset)
        with _transaction(self._sessions, "listing audit records") as session:
            return [_audit_record(row) for row in session.scalars(stmt)]

    def counts_by_action(self, *, since: datetime | None = None, until: datetime | None = None) -> dict[str, int]:
        _check_aware(since=since, until=until)
        stmt = select(AuditRow.action, func.count()).group_by(AuditRow.action)
        if since is not None:
            stmt = stmt.where(AuditRow.at >= since)
        if until is not None:
            stmt = stmt.where(AuditRow.at < until)
        with _transaction(self._sessions, "counting audit records") as session:
            return {str(a): int(n) for a, n in session.execute(stmt).all()}

    def scan(self, batch: int = 1000) -> Iterator[AuditRecord]:
        """Every record in ``seq`` order, read in batches (for verification)."""
        after = 0
        while True:
            stmt = select(AuditRow).where(AuditRow.seq > after).order_by(AuditRow.seq).limit(batch)
            with _transaction(self._sessions, "reading the audit chain") as session:
                rows = [_audit_record(row) for row in session.scalars(stmt)]
            yield from rows
            if len(rows) < batch:
                return
            after = rows[-1].seq


# -- users, sessions, tokens, login attempts ----------------------------------------------


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
                _maybe_audit(session, audit)
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
            _maybe_audit(session, audit)
            return _user_record(row)


class AuthRepository:
    """Browser sessions, API tokens (stored as SHA-256 hashes only) and login attempts."""

    def __init__(self, sessions: sessionmaker[Session], write_sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._write_sessions = write_sessions

    def record_attempt(self, username: str, remote: str, *, ok: bool, audit: AuditEntry | None = None) -> None:
        with _transaction(self._write_sessions, "recording a login attempt") as session:
            session.add(LoginAttemptRow(username=username[:64], remote=remote[:64], at=utcnow(), ok=ok))
            _maybe_audit(session, audit)

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
            _maybe_audit(session, audit)

    def get_session(self, session_hash: str) -> SessionRecord | None:
        with _transaction(self._sessions, "reading a session") as session:
            row = session.get(SessionRow, session_hash)
            if row is None:
                return None
            return SessionRecord(row.user_id, row.csrf_token, row.created_at, row.expires_at)

    def delete_session(self, session_hash: str, audit: AuditEntry | None = None) -> None:
        with _transaction(self._write_sessions, "closing a session") as session:
            session.execute(delete(SessionRow).where(SessionRow.session_hash == session_hash))
            _maybe_audit(session, audit)

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
            _maybe_audit(session, audit)
            return _token_record(row)

    def token_by_hash(self, token_hash: str) -> TokenRecord | None:
        with _transaction(self._sessions, "reading an API token") as session:
            row = session.scalar(select(ApiTokenRow).where(ApiTokenRow.token_hash == token_hash))
            return None if row is None else _token_record(row)

    def purge_expired(self, now: datetime) -> int:
        """Delete expired sessions; returns how many."""
        with _transaction(self._write_sessions, "purging sessions") as session:
            result = session.execute(delete(SessionRow).where(SessionRow.expires_at < now))
            return int(getattr(result, "rowcount", 0) or 0)


# -- cases and legal hold -----------------------------------------------------------------


class CaseRepository:
    """Cases group events, tracks, candidates and attachments; legal hold exempts them from retention."""

    def __init__(self, sessions: sessionmaker[Session], write_sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._write_sessions = write_sessions

    def create(self, name: str, *, reason: str, legal_hold: bool, created_by: str, audit: AuditEntry) -> CaseRecord:
        case_id = new_id()
        with _transaction(self._write_sessions, "creating a case") as session:
            row = CaseRow(
                case_id=case_id,
                name=name,
                reason=reason,
                legal_hold=legal_hold,
                created_by=created_by,
                created_at=utcnow(),
            )
            session.add(row)
            session.flush()
            append_audit(session, _with_object(audit, case_id))
            return _case_record(session, row)

    def get(self, case_id: str) -> CaseRecord:
        with _transaction(self._sessions, "reading a case") as session:
            row = session.get(CaseRow, case_id)
            if row is None:
                raise NotFoundError(f"no case {case_id!r}")
            return _case_record(session, row)

    def list(self, *, limit: int = 100, offset: int = 0) -> builtins.list[CaseRecord]:
        _check_page(limit, offset)
        stmt = select(CaseRow).order_by(CaseRow.created_at.desc(), CaseRow.case_id).limit(limit).offset(offset)
        with _transaction(self._sessions, "listing cases") as session:
            return [_case_record(session, row) for row in session.scalars(stmt)]

    def add_item(
        self, case_id: str, *, item_type: str, item_id: str, camera_id: str | None, added_by: str, audit: AuditEntry
    ) -> CaseRecord:
        """Attach an item to a case.

        Raises:
            NotFoundError: no such case.
            ConflictError: the item is already in the case.
        """
        with _transaction(self._write_sessions, "adding to a case") as session:
            row = session.get(CaseRow, case_id, with_for_update=True)
            if row is None:
                raise NotFoundError(f"no case {case_id!r}")
            exists = session.scalar(
                select(CaseItemRow.id).where(
                    CaseItemRow.case_id == case_id, CaseItemRow.item_type == item_type, CaseItemRow.item_id == item_id
                )
            )
            if exists is not None:
                raise ConflictError(f"{item_type} {item_id!r} is already in case {case_id}")
            session.add(
                CaseItemRow(
                    case_id=case_id,
                    item_type=item_type,
                    item_id=item_id,
                    camera_id=camera_id,
                    added_by=added_by,
                    added_at=utcnow(),
                )
            )
            session.flush()
            append_audit(session, audit)
            return _case_record(session, row)

    def set_hold(self, case_id: str, *, legal_hold: bool, audit: AuditEntry) -> CaseRecord:
        with _transaction(self._write_sessions, "changing a legal hold") as session:
            row = session.get(CaseRow, case_id, with_for_update=True)
            if row is None:
                raise NotFoundError(f"no case {case_id!r}")
            row.legal_hold = legal_hold
            session.flush()
            append_audit(session, audit)
            return _case_record(session, row)

    def held_ids(self, item_type: str) -> set[str]:
        """Ids of ``item_type`` items in any case on legal hold."""
        stmt = (
            select(CaseItemRow.item_id)
            .join(CaseRow, CaseRow.case_id == CaseItemRow.case_id)
            .where(CaseRow.legal_hold.is_(True), CaseItemRow.item_type == item_type)
        )
        with _transaction(self._sessions, "reading legal holds") as session:
            return set(session.scalars(stmt))


# -- policies and dead letters ------------------------------------------------------------


class PolicyRepository:
    def __init__(self, sessions: sessionmaker[Session], write_sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._write_sessions = write_sessions

    def list(self) -> builtins.list[PolicyRecord]:
        with _transaction(self._sessions, "listing policies") as session:
            rows = session.scalars(select(PolicyRow).order_by(PolicyRow.key))
            return [PolicyRecord(r.key, r.value, r.updated_by, r.updated_at) for r in rows]

    def get(self, key: str) -> PolicyRecord | None:
        with _transaction(self._sessions, "reading a policy") as session:
            r = session.get(PolicyRow, key)
            return None if r is None else PolicyRecord(r.key, r.value, r.updated_by, r.updated_at)

    def set(self, key: str, value: Any, *, updated_by: str, audit: AuditEntry) -> PolicyRecord:
        with _transaction(self._write_sessions, f"setting policy {key}") as session:
            row = session.get(PolicyRow, key, with_for_update=True)
            now = utcnow()
            if row is None:
                row = PolicyRow(key=key, value=value, updated_by=updated_by, updated_at=now)
                session.add(row)
            else:
                row.value, row.updated_by, row.updated_at = value, updated_by, now
            session.flush()
            append_audit(session, audit)
            return PolicyRecord(row.key, row.value, row.updated_by, row.updated_at)


class DeadLetterRepository:
    def __init__(self, sessions: sessionmaker[Session], write_sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._write_sessions = write_sessions

    def add(self, *, channel: str, target: str, payload: dict[str, Any], error: str, attempts: int) -> None:
        with _transaction(self._write_sessions, "recording a dead letter") as session:
            session.add(
                DeadLetterRow(
                    channel=channel,
                    target=target,
                    payload=payload,
                    error=error[:2000],
                    attempts=attempts,
                    created_at=utcnow(),
                )
            )

    def list(self, *, limit: int = 100) -> builtins.list[DeadLetterRecord]:
        _check_page(limit, 0)
        with _transaction(self._sessions, "listing dead letters") as session:
            rows = session.scalars(select(DeadLetterRow).order_by(DeadLetterRow.id).limit(limit))
            return [
                DeadLetterRecord(r.id, r.channel, r.target, r.payload, r.error, r.attempts, r.created_at) for r in rows
            ]


# -- retention and media ownership --------------------------------------------------------


class RetentionRepository:
    """Deletes expired core rows in one transaction with its audit record (counts only)."""

    def __init__(self, sessions: sessionmaker[Session], write_sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._write_sessions = write_sessions

    def purge(self, cutoffs: PurgeCutoffs, *, actor: str) -> PurgeResult:
        held = (
            select(CaseItemRow.item_type, CaseItemRow.item_id)
            .join(CaseRow, CaseRow.case_id == CaseItemRow.case_id)
            .where(CaseRow.legal_hold.is_(True))
        )
        with _transaction(self._write_sessions, "applying retention") as session:
            held_rows = session.execute(held).all()
            held_by_type: dict[str, set[str]] = {}
            for item_type, item_id in held_rows:
                held_by_type.setdefault(str(item_type), set()).add(str(item_id))
            held_events = held_by_type.get("event", set())
            held_tracks = held_by_type.get("track", set())
            held_candidates = held_by_type.get("candidate", set())
            media: list[str] = []

            tracks = session.execute(
                select(TrackRow.track_id, TrackRow.snapshot).where(TrackRow.last_seen < cutoffs.tracks_before)
            ).all()
            track_ids = [str(t) for t, _ in tracks if t not in held_tracks]
            media += [str(s) for t, s in tracks if t not in held_tracks and s]

            cands = session.execute(
                select(CandidateRow.candidate_id, CandidateRow.probe_media, CandidateRow.track_id).where(
                    CandidateRow.occurred_at < cutoffs.candidates_before
                )
            ).all()
            cand_ids = [str(c) for c, _, tr in cands if c not in held_candidates and tr not in held_tracks]
            media += [str(p) for c, p, tr in cands if c not in held_candidates and tr not in held_tracks and p]

            events = session.execute(
                select(EventRow.event_id, EventRow.track_id).where(EventRow.occurred_at < cutoffs.events_before)
            ).all()
            event_ids = [
                str(e)
                for e, tr in events
                if e not in held_events and e not in held_candidates and (tr is None or tr not in held_tracks)
            ]
            counts = {
                "tracks": _delete_in(session, TrackRow.track_id, track_ids),
                "candidates": _delete_in(session, CandidateRow.candidate_id, cand_ids),
                "events": _delete_in(session, EventRow.event_id, event_ids),
                "dead_letters": _rowcount(
                    session.execute(delete(DeadLetterRow).where(DeadLetterRow.created_at < cutoffs.dead_letters_before))
                ),
                "login_attempts": _rowcount(
                    session.execute(delete(LoginAttemptRow).where(LoginAttemptRow.at < cutoffs.login_attempts_before))
                ),
                "media_files": len(media),
                "held_items": len(held_rows),
            }
            append_audit(session, AuditEntry(actor=actor, action="retention.run", detail=dict(counts)))
        return PurgeResult(counts=counts, media_paths=tuple(media))


class MediaIndexRepository:
    """Which camera a media file belongs to: a file no record points at is never served."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def owner(self, rel_path: str) -> tuple[str, str] | None:
        """``(camera_id, kind)`` of the record that references ``rel_path`` (kind: snapshot, probe,
        reference), or None."""
        with _transaction(self._sessions, "finding a media file's owner") as session:
            camera = session.scalar(select(TrackRow.camera_id).where(TrackRow.snapshot == rel_path).limit(1))
            if camera is not None:
                return str(camera), "snapshot"
            row = session.execute(
                select(CandidateRow.camera_id, CandidateRow.probe_media)
                .where(or_(CandidateRow.probe_media == rel_path, CandidateRow.reference_media == rel_path))
                .limit(1)
            ).first()
            if row is not None:
                return str(row[0]), "probe" if row[1] == rel_path else "reference"
        return None


# -- helpers ------------------------------------------------------------------------------


def _delete_in(session: Session, column: Any, ids: builtins.list[str]) -> int:
    total = 0
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        total += _rowcount(session.execute(delete(column.class_).where(column.in_(chunk))))
    return total


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def _with_object(audit: AuditEntry, object_id: str) -> AuditEntry:
    return AuditEntry(
        actor=audit.actor,
        action=audit.action,
        object_type=audit.object_type,
        object_id=object_id,
        camera_id=audit.camera_id,
        reason=audit.reason,
        detail=audit.detail,
    )


def _audit_record(row: AuditRow) -> AuditRecord:
    return AuditRecord(
        seq=row.seq,
        at=row.at,
        actor=row.actor,
        action=row.action,
        object_type=row.object_type,
        object_id=row.object_id,
        camera_id=row.camera_id,
        reason=row.reason,
        detail=dict(row.detail or {}),
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


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


def _token_record(row: ApiTokenRow) -> TokenRecord:
    return TokenRecord(row.token_id, row.user_id, row.name, row.created_at, row.expires_at, row.revoked_at)


def _case_record(session: Session, row: CaseRow) -> CaseRecord:
    items = session.scalars(select(CaseItemRow).where(CaseItemRow.case_id == row.case_id).order_by(CaseItemRow.id))
    return CaseRecord(
        case_id=row.case_id,
        name=row.name,
        reason=row.reason,
        legal_hold=row.legal_hold,
        created_by=row.created_by,
        created_at=row.created_at,
        items=tuple(CaseItemRecord(i.item_type, i.item_id, i.camera_id, i.added_by, i.added_at) for i in items),
    )


class GovernanceStore:
    """Every governance repository over one engine (``Store.governance``)."""

    def __init__(self, sessions: sessionmaker[Session], write_sessions: sessionmaker[Session]) -> None:
        self.users = UserRepository(sessions, write_sessions)
        self.auth = AuthRepository(sessions, write_sessions)
        self.audit = AuditRepository(sessions, write_sessions)
        self.cases = CaseRepository(sessions, write_sessions)
        self.policies = PolicyRepository(sessions, write_sessions)
        self.dead_letters = DeadLetterRepository(sessions, write_sessions)
        self.retention = RetentionRepository(sessions, write_sessions)
        self.media_index = MediaIndexRepository(sessions)
        self.reports = ReportRepository(sessions)


class ReportRepository:
    """Aggregate counts for the transparency report (no personal data leaves these queries)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def counts(self, since: datetime, until: datetime) -> dict[str, dict[str, int]]:
        """Events by type, tracks by class, candidates by ``kind:status`` and cameras seen in [since, until)."""
        _check_aware(since=since, until=until)
        with _transaction(self._sessions, "aggregating the transparency report") as session:
            events = session.execute(
                select(EventRow.type, func.count())
                .where(EventRow.occurred_at >= since, EventRow.occurred_at < until)
                .group_by(EventRow.type)
            ).all()
            tracks = session.execute(
                select(TrackRow.class_name, func.count())
                .where(TrackRow.first_seen >= since, TrackRow.first_seen < until)
                .group_by(TrackRow.class_name)
            ).all()
            cands = session.execute(
                select(CandidateRow.kind, CandidateRow.status, func.count())
                .where(CandidateRow.occurred_at >= since, CandidateRow.occurred_at < until)
                .group_by(CandidateRow.kind, CandidateRow.status)
            ).all()
            cameras = session.scalar(
                select(func.count(func.distinct(EventRow.camera_id))).where(
                    EventRow.occurred_at >= since, EventRow.occurred_at < until
                )
            )
        return {
            "events": {str(k): int(n) for k, n in events},
            "tracks": {str(k): int(n) for k, n in tracks},
            "candidates": {f"{k}:{s}": int(n) for k, s, n in cands},
            "cameras": {"active": int(cameras or 0)},
        }
