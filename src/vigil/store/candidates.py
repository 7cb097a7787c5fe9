"""Candidate matches and their human adjudication (two-person rule where required).

A candidate is created by folding a ``candidate.raised`` event (idempotent by candidate id =
the event id). Decisions are recorded one row per person; the candidate's status follows:

* ``pending``   until enough *different* people confirm it;
* ``confirmed`` once ``required_confirmations`` distinct people confirmed it — only then is
  it actionable;
* ``rejected``  as soon as anyone rejects it, with a reason (a rejection is final: one
  informed doubt is enough to stop action on a possible false match).
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from vigil.core.clock import utcnow
from vigil.core.errors import ConflictError, NotFoundError, PolicyError
from vigil.events import CandidateRaised
from vigil.store.session import _check_aware, _check_page, _transaction
from vigil.store.tables import Base, UTCDateTime

CandidateStatus = Literal["pending", "confirmed", "rejected"]
Decision = Literal["confirm", "reject"]
MIN_REASON = 5


class CandidateRow(Base):
    __tablename__ = "candidates"

    candidate_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    camera_id: Mapped[str] = mapped_column(String(128))
    list_entry_id: Mapped[str] = mapped_column(String(128))
    track_id: Mapped[str | None] = mapped_column(String(128))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    score: Mapped[float] = mapped_column(Float)
    threshold: Mapped[float | None] = mapped_column(Float)
    false_match_rate: Mapped[float | None] = mapped_column(Float)
    calibration_id: Mapped[str | None] = mapped_column(String(64))
    probe_media: Mapped[str | None] = mapped_column(String(512))
    reference_media: Mapped[str | None] = mapped_column(String(512))
    observed: Mapped[str | None] = mapped_column(String(64))
    flags: Mapped[list[str]] = mapped_column(JSON)
    detail: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index("ix_candidates_status_occurred_at", "status", "occurred_at"),
        Index("ix_candidates_list_entry_id_occurred_at", "list_entry_id", "occurred_at"),
        Index("ix_candidates_camera_id_occurred_at", "camera_id", "occurred_at"),
    )


class CandidateDecisionRow(Base):
    __tablename__ = "candidate_decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    candidate_id: Mapped[str] = mapped_column(String(64), ForeignKey("candidates.candidate_id", ondelete="CASCADE"))
    actor: Mapped[str] = mapped_column(String(128))
    decision: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_candidate_decisions_candidate_id", "candidate_id"),)


@dataclass(frozen=True, slots=True)
class CandidateDecisionRecord:
    actor: str
    decision: str
    reason: str | None
    decided_at: datetime


@dataclass(frozen=True, slots=True)
class CandidateRecord:
    """A candidate as a reviewer sees it."""

    candidate_id: str
    kind: str
    camera_id: str
    list_entry_id: str
    track_id: str | None
    occurred_at: datetime
    score: float
    threshold: float | None
    false_match_rate: float | None
    calibration_id: str | None
    probe_media: str | None
    reference_media: str | None
    observed: str | None
    flags: tuple[str, ...]
    detail: str | None
    status: CandidateStatus
    decided_at: datetime | None
    decisions: tuple[CandidateDecisionRecord, ...]

    @property
    def actionable(self) -> bool:
        return self.status == "confirmed"


def fold_candidates(session: Session, events: Sequence[Any]) -> None:
    """Create one ``candidates`` row per newly stored ``candidate.raised`` event."""
    for e in events:
        if isinstance(e, CandidateRaised):
            session.add(
                CandidateRow(
                    candidate_id=e.event_id,
                    kind=e.kind,
                    camera_id=e.camera_id,
                    list_entry_id=e.list_entry_id,
                    track_id=e.track_id,
                    occurred_at=e.occurred_at,
                    score=e.score,
                    threshold=e.threshold,
                    false_match_rate=e.false_match_rate,
                    calibration_id=e.calibration_id,
                    probe_media=e.probe_media,
                    reference_media=e.reference_media,
                    observed=e.observed,
                    flags=list(e.flags),
                    detail=e.detail,
                    status="pending",
                    decided_at=None,
                )
            )


class CandidateRepository:
    """The review queue: list candidates and record people's decisions on them."""

    def __init__(self, sessions: sessionmaker[Session], write_sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._write_sessions = write_sessions

    def get(self, candidate_id: str) -> CandidateRecord:
        with _transaction(self._sessions, "reading a candidate") as session:
            row = session.get(CandidateRow, candidate_id)
            if row is None:
                raise NotFoundError(f"no candidate {candidate_id!r}")
            return _record(session, row)

    def get_many(self, candidate_ids: Sequence[str]) -> builtins.list[CandidateRecord]:
        """The candidates among ``candidate_ids`` that exist, in the order given (one transaction;
        the indexer reads back a batch's candidates to alert on them)."""
        if not candidate_ids:
            return []
        with _transaction(self._sessions, "reading candidates") as session:
            rows = {
                r.candidate_id: r
                for r in session.scalars(select(CandidateRow).where(CandidateRow.candidate_id.in_(candidate_ids)))
            }
            decisions: dict[str, builtins.list[CandidateDecisionRecord]] = {}
            for d in session.scalars(
                select(CandidateDecisionRow)
                .where(CandidateDecisionRow.candidate_id.in_(list(rows)))
                .order_by(CandidateDecisionRow.decided_at, CandidateDecisionRow.id)
            ):
                decisions.setdefault(d.candidate_id, []).append(
                    CandidateDecisionRecord(d.actor, d.decision, d.reason, d.decided_at)
                )
            return [
                _record(session, rows[i], tuple(decisions.get(i, ())))
                for i in dict.fromkeys(candidate_ids)
                if i in rows
            ]

    def list(
        self,
        *,
        status: CandidateStatus | None = None,
        kind: str | None = None,
        camera_id: str | None = None,
        list_entry_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
        offset: int = 0,
        newest_first: bool = True,
    ) -> builtins.list[CandidateRecord]:
        _check_page(limit, offset)
        _check_aware(since=since, until=until)
        stmt = select(CandidateRow)
        if status is not None:
            stmt = stmt.where(CandidateRow.status == status)
        if kind is not None:
            stmt = stmt.where(CandidateRow.kind == kind)
        if camera_id is not None:
            stmt = stmt.where(CandidateRow.camera_id == camera_id)
        if list_entry_id is not None:
            stmt = stmt.where(CandidateRow.list_entry_id == list_entry_id)
        if since is not None:
            stmt = stmt.where(CandidateRow.occurred_at >= since)
        if until is not None:
            stmt = stmt.where(CandidateRow.occurred_at < until)
        order = CandidateRow.occurred_at.desc() if newest_first else CandidateRow.occurred_at.asc()
        stmt = stmt.order_by(order, CandidateRow.candidate_id).limit(limit).offset(offset)
        with _transaction(self._sessions, "listing candidates") as session:
            return [_record(session, row) for row in session.scalars(stmt)]

    def counts_by_status(self, *, since: datetime | None = None) -> dict[str, int]:
        stmt = select(CandidateRow.status, func.count()).group_by(CandidateRow.status)
        if since is not None:
            stmt = stmt.where(CandidateRow.occurred_at >= since)
        with _transaction(self._sessions, "counting candidates") as session:
            return {str(s): int(n) for s, n in session.execute(stmt).all()}

    def decide(
        self,
        candidate_id: str,
        *,
        actor: str,
        decision: Decision,
        reason: str | None,
        required_confirmations: int,
        now: datetime | None = None,
        on_decided: Callable[[Session, CandidateRecord], None] | None = None,
    ) -> CandidateRecord:
        """Record one person's decision and return the candidate's new state.

        ``on_decided`` runs inside the same transaction (e.g. to append the audit record), so
        the decision and its audit record are written together or not at all.

        Raises:
            NotFoundError: no such candidate.
            PolicyError: a rejection without a reason, or a person confirming twice.
            ConflictError: the candidate was already confirmed or rejected.
        """
        actor = actor.strip()
        if not actor:
            raise PolicyError("a decision needs the name of the person making it")
        if decision not in ("confirm", "reject"):
            raise ValueError(f"decision must be 'confirm' or 'reject', got {decision!r}")
        reason = reason.strip() if reason else None
        if decision == "reject" and (reason is None or len(reason) < MIN_REASON):
            raise PolicyError(f"a rejection needs a reason of at least {MIN_REASON} characters")
        when = now or utcnow()
        with _transaction(self._write_sessions, "recording a decision") as session:
            row = session.get(CandidateRow, candidate_id, with_for_update=True)
            if row is None:
                raise NotFoundError(f"no candidate {candidate_id!r}")
            if row.status != "pending":
                raise ConflictError(f"candidate {candidate_id} is already {row.status}; decisions are final")
            confirmers = set(
                session.scalars(
                    select(CandidateDecisionRow.actor).where(
                        CandidateDecisionRow.candidate_id == candidate_id,
                        CandidateDecisionRow.decision == "confirm",
                    )
                )
            )
            if decision == "confirm" and actor in confirmers:
                raise PolicyError(
                    f"{actor} has already confirmed candidate {candidate_id}; "
                    f"a second confirmation must come from a different person"
                )
            session.add(
                CandidateDecisionRow(
                    candidate_id=candidate_id, actor=actor, decision=decision, reason=reason, decided_at=when
                )
            )
            if decision == "reject":
                row.status, row.decided_at = "rejected", when
            elif len(confirmers | {actor}) >= required_confirmations:
                row.status, row.decided_at = "confirmed", when
            session.flush()
            record = _record(session, row)
            if on_decided is not None:
                on_decided(session, record)
            return record


def _record(
    session: Session, row: CandidateRow, decisions: tuple[CandidateDecisionRecord, ...] | None = None
) -> CandidateRecord:
    if decisions is None:
        decisions = tuple(
            CandidateDecisionRecord(d.actor, d.decision, d.reason, d.decided_at)
            for d in session.scalars(
                select(CandidateDecisionRow)
                .where(CandidateDecisionRow.candidate_id == row.candidate_id)
                .order_by(CandidateDecisionRow.decided_at, CandidateDecisionRow.id)
            )
        )
    status: CandidateStatus = row.status  # type: ignore[assignment]
    return CandidateRecord(
        candidate_id=row.candidate_id,
        kind=row.kind,
        camera_id=row.camera_id,
        list_entry_id=row.list_entry_id,
        track_id=row.track_id,
        occurred_at=row.occurred_at,
        score=row.score,
        threshold=row.threshold,
        false_match_rate=row.false_match_rate,
        calibration_id=row.calibration_id,
        probe_media=row.probe_media,
        reference_media=row.reference_media,
        observed=row.observed,
        flags=tuple(row.flags or ()),
        detail=row.detail,
        status=status,
        decided_at=row.decided_at,
        decisions=decisions,
    )
