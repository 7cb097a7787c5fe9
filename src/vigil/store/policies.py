"""Deployment policies: named values changed by supervisors, each change audited."""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from vigil.core.clock import utcnow
from vigil.store.audit import AuditEntry, append_audit
from vigil.store.session import _transaction
from vigil.store.tables import Base, UTCDateTime

FACE_THRESHOLD = "faces.threshold"
"""The policy that sets the face matcher's threshold (validated in :mod:`vigil.services.policy`,
read by the faces stage beside the active calibration: the newer of the two is in force)."""


PLATE_MIN_CONFIDENCE = "plates.min_confidence"
"""The policy that sets the least voted-read confidence the plates stage matches against the
hotlist (at least the deployment's ``plates.min_confidence``: a policy may only make it stricter)."""


class PolicyRow(Base):
    __tablename__ = "policies"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_by: Mapped[str] = mapped_column(String(128))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


@dataclass(frozen=True, slots=True)
class PolicyRecord:
    key: str
    value: Any
    updated_by: str
    updated_at: datetime


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
