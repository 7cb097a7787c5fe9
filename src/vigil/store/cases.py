"""Cases group events, tracks, candidates and attachments; legal hold exempts them from retention."""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from vigil.core.clock import utcnow
from vigil.core.errors import ConflictError, NotFoundError
from vigil.core.ids import new_id
from vigil.store.audit import AuditEntry, append_audit, with_object
from vigil.store.session import _check_page, _transaction
from vigil.store.tables import Base, UTCDateTime


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
            append_audit(session, with_object(audit, case_id))
            return _case_record(session, row)

    def get(self, case_id: str) -> CaseRecord:
        with _transaction(self._sessions, "reading a case") as session:
            row = session.get(CaseRow, case_id)
            if row is None:
                raise NotFoundError(f"no case {case_id!r}")
            return _case_record(session, row)

    def list(
        self, *, limit: int = 100, offset: int = 0, cameras: frozenset[str] | None = None
    ) -> builtins.list[CaseRecord]:
        """Cases, newest first; with ``cameras``, only those whose every item is on one of them
        (or has no camera), so a camera-scoped reader never learns of another camera's cases."""
        _check_page(limit, offset)
        stmt = select(CaseRow)
        if cameras is not None:
            outside = select(CaseItemRow.id).where(
                CaseItemRow.case_id == CaseRow.case_id,
                CaseItemRow.camera_id.is_not(None),
                CaseItemRow.camera_id.not_in(sorted(cameras)),
            )
            stmt = stmt.where(~outside.exists())
        stmt = stmt.order_by(CaseRow.created_at.desc(), CaseRow.case_id).limit(limit).offset(offset)
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
