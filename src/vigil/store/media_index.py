"""Which camera a media file belongs to: a file no record points at is never served."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from vigil.store.candidates import CandidateRow
from vigil.store.session import _transaction
from vigil.store.tables import TrackRow


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
