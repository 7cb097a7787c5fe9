"""Aggregate counts for the transparency report (no personal data leaves these queries)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from vigil.store.candidates import CandidateRow
from vigil.store.session import _check_aware, _transaction
from vigil.store.tables import EventRow, TrackRow


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
