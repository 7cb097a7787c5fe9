"""Which camera a media file belongs to: a file no record points at is never served."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from vigil.store.candidates import CandidateRow
from vigil.store.clips import ClipRow
from vigil.store.session import _transaction
from vigil.store.tables import TrackRow


class MediaIndexRepository:
    """Which camera a media file belongs to: a file no record points at is never served."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def owner(self, rel_path: str) -> tuple[str, str] | None:
        """``(camera_id, kind)`` of the record that references ``rel_path`` (kind: snapshot, probe,
        reference, clip, clip_kept: the copy that keeps a face candidate's face), or None."""
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
            clip = session.execute(
                select(ClipRow.camera_id, ClipRow.media)
                .where(or_(ClipRow.media == rel_path, ClipRow.media_kept == rel_path))
                .limit(1)
            ).first()
            if clip is not None:
                return str(clip[0]), "clip" if clip[1] == rel_path else "clip_kept"
        return None

    def kept_faces(self, rel_path: str) -> bool:
        """True if ``rel_path`` is the snapshot of a track that raised a candidate: such a
        snapshot is written with its faces (the reviewer must see who it was, see
        ``workers.pipeline``), every other one with its faces already blurred."""
        with _transaction(self._sessions, "finding whether a snapshot kept its faces") as session:
            track = session.scalar(select(TrackRow.track_id).where(TrackRow.snapshot == rel_path).limit(1))
            if track is None:
                return False
            raised = select(CandidateRow.candidate_id).where(CandidateRow.track_id == track).limit(1)
            return session.scalar(raised) is not None
