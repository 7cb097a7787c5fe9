"""The audit log: an append-only, hash-chained table and its repository.

Record ``n`` stores ``prev_hash`` (the hash of record ``n - 1``; 64 zeros for the first) and
``hash = sha256(prev_hash + canonical content)``, where the canonical content includes ``seq``.
Editing, deleting or reordering any record breaks the chain at that record (see
:func:`vigil.governance.audit.verify_chain`). Every change a repository makes takes an optional
:class:`AuditEntry` that is written by :func:`append_audit` in the *same* transaction, so a change
is never stored without its record (nor a record without its change).
"""

from __future__ import annotations

import builtins
import hashlib
import json
import logging
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String, Text, event, func, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from vigil.core.clock import utcnow
from vigil.core.errors import StoreError
from vigil.store.audit_keys import AuditSigner
from vigil.store.session import _check_aware, _check_page, _transaction
from vigil.store.tables import Base, PayloadJSON, UTCDateTime

GENESIS_HASH = "0" * 64
AUDIT_SIGNER_INFO = "vigil_audit_signer"
"""``Session.info`` key of the :class:`~vigil.store.audit_keys.AuditSigner` (set by ``Store``)."""
logger = logging.getLogger(__name__)
_AUDIT_LOCK_KEY = 0x5649_4749  # "VIGI": PostgreSQL advisory lock serialising chain appends


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
    key_id: Mapped[str | None] = mapped_column(String(16), nullable=True)
    sig: Mapped[str | None] = mapped_column(String(128), nullable=True)

    __table_args__ = (
        Index("ix_audit_log_at", "at"),
        Index("ix_audit_log_actor_at", "actor", "at"),
        Index("ix_audit_log_action_at", "action", "at"),
    )


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
    key_id: str | None = None
    sig: str | None = None


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
    signer: AuditSigner | None = session.info.get(AUDIT_SIGNER_INFO)
    if signer is not None:
        checkpoint = signer.sign(seq, digest)
        row.key_id, row.sig = checkpoint.key_id, checkpoint.sig

        def _advance_head(_session: Session) -> None:
            # After the commit only: a rolled-back record must never become the head.
            try:
                signer.advance_head(checkpoint)
            except StoreError as exc:
                logger.error("audit record %d committed but the head file was not advanced: %s", seq, exc)

        event.listen(session, "after_commit", _advance_head, once=True)
    session.add(row)
    session.flush()
    return _audit_record(row)


def maybe_audit(session: Session, audit: AuditEntry | None) -> None:
    """Append ``audit`` when one is given (repositories whose changes are audited only sometimes)."""
    if audit is not None:
        append_audit(session, audit)


def with_object(audit: AuditEntry, object_id: str) -> AuditEntry:
    """``audit`` naming ``object_id`` (for objects whose id is made inside the transaction)."""
    return AuditEntry(
        actor=audit.actor,
        action=audit.action,
        object_type=audit.object_type,
        object_id=object_id,
        camera_id=audit.camera_id,
        reason=audit.reason,
        detail=audit.detail,
    )


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
        newest_first: bool = False,
        exclude_actions: Collection[str] = (),
        before_seq: int | None = None,
    ) -> builtins.list[AuditRecord]:
        """Records matching every given filter, oldest first (``newest_first``: newest first),
        less any whose action is in ``exclude_actions``; ``before_seq`` pages back through the
        chain stably while records are appended."""
        _check_page(limit, offset)
        stmt = self._filtered(select(AuditRow), actor, action, object_id, object_ids, since, until, exclude_actions)
        if before_seq is not None:
            stmt = stmt.where(AuditRow.seq < before_seq)
        order = AuditRow.seq.desc() if newest_first else AuditRow.seq
        stmt = stmt.order_by(order).limit(limit).offset(offset)
        with _transaction(self._sessions, "listing audit records") as session:
            return [_audit_record(row) for row in session.scalars(stmt)]

    def moments(
        self,
        actions: Collection[str],
        *,
        actor: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100_000,
    ) -> builtins.list[tuple[datetime, str, str, str | None]]:
        """(at, action, actor, camera) of the records of ``actions``, newest first: what a
        summary that counts them needs, without their content."""
        stmt = self._filtered(
            select(AuditRow.at, AuditRow.action, AuditRow.actor, AuditRow.camera_id), actor, None, None, None, since,
            until, (),
        ).where(AuditRow.action.in_(list(actions)))  # fmt: skip
        stmt = stmt.order_by(AuditRow.seq.desc()).limit(limit)
        with _transaction(self._sessions, "counting audit records") as session:
            return [(at, str(a), str(who), cam) for at, a, who, cam in session.execute(stmt).all()]

    @staticmethod
    def _filtered(
        stmt: Any,
        actor: str | None,
        action: str | None,
        object_id: str | None,
        object_ids: Collection[str] | None,
        since: datetime | None,
        until: datetime | None,
        exclude_actions: Collection[str],
    ) -> Any:
        _check_aware(since=since, until=until)
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
        if exclude_actions:
            stmt = stmt.where(AuditRow.action.not_in(list(exclude_actions)))
        return stmt

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
        key_id=row.key_id,
        sig=row.sig,
    )
