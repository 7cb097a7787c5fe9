"""Clips kept around candidates and crowd alerts: one row per ``clip.recorded`` event.

A clip shares its subject's fate: retention removes it (row and files) with the subject's
cutoff (``subject_at``), and a case on legal hold that names the subject (candidate or event)
or its track keeps it (``store/retention.py``).
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String, or_, select
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from vigil.events import ClipRecorded
from vigil.store.session import _transaction
from vigil.store.tables import Base, UTCDateTime


class ClipRow(Base):
    __tablename__ = "clips"

    clip_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    camera_id: Mapped[str] = mapped_column(String(128))
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[str] = mapped_column(String(64))
    subject_at: Mapped[datetime] = mapped_column(UTCDateTime())
    track_id: Mapped[str | None] = mapped_column(String(128))
    media: Mapped[str] = mapped_column(String(512))
    media_kept: Mapped[str | None] = mapped_column(String(512))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime] = mapped_column(UTCDateTime())
    frames: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        Index("ix_clips_subject_id", "subject_id"),
        Index("ix_clips_media", "media"),
        Index("ix_clips_media_kept", "media_kept"),
        Index("ix_clips_camera_id_started_at", "camera_id", "started_at"),
    )


@dataclass(frozen=True, slots=True)
class ClipRecord:
    """A stored clip."""

    clip_id: str
    camera_id: str
    subject_type: str
    subject_id: str
    subject_at: datetime
    track_id: str | None
    media: str
    media_kept: str | None
    started_at: datetime
    ended_at: datetime
    frames: int
    width: int
    height: int

    @property
    def duration_s(self) -> float:
        return (self.ended_at - self.started_at).total_seconds()


def _record(row: ClipRow) -> ClipRecord:
    return ClipRecord(
        clip_id=row.clip_id,
        camera_id=row.camera_id,
        subject_type=row.subject_type,
        subject_id=row.subject_id,
        subject_at=row.subject_at,
        track_id=row.track_id,
        media=row.media,
        media_kept=row.media_kept,
        started_at=row.started_at,
        ended_at=row.ended_at,
        frames=row.frames,
        width=row.width,
        height=row.height,
    )


def fold_clips(session: Session, events: Sequence[Any]) -> None:
    """One ``clips`` row per newly stored ``clip.recorded`` event."""
    for e in events:
        if isinstance(e, ClipRecorded):
            session.add(
                ClipRow(
                    clip_id=e.event_id,
                    camera_id=e.camera_id,
                    subject_type=e.subject_type,
                    subject_id=e.subject_id,
                    subject_at=e.subject_at,
                    track_id=e.track_id,
                    media=e.media,
                    media_kept=e.media_kept,
                    started_at=e.started_at,
                    ended_at=e.ended_at,
                    frames=e.frames,
                    width=e.width,
                    height=e.height,
                )
            )


class ClipRepository:
    """Clips by subject, track or media path."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def for_subjects(self, subject_ids: builtins.list[str]) -> dict[str, ClipRecord]:
        """The clip of each subject that has one (the first kept, if several)."""
        if not subject_ids:
            return {}
        with _transaction(self._sessions, "reading clips") as session:
            rows = session.scalars(
                select(ClipRow).where(ClipRow.subject_id.in_(subject_ids[:1000])).order_by(ClipRow.started_at)
            ).all()
            out: dict[str, ClipRecord] = {}
            for row in rows:
                out.setdefault(row.subject_id, _record(row))
            return out

    def for_track(self, track_id: str) -> builtins.list[ClipRecord]:
        """Clips of a track's candidates, oldest first."""
        with _transaction(self._sessions, "reading a track's clips") as session:
            rows = session.scalars(select(ClipRow).where(ClipRow.track_id == track_id).order_by(ClipRow.started_at))
            return [_record(r) for r in rows]

    def by_media(self, rel_path: str) -> ClipRecord | None:
        """The clip stored at ``rel_path`` (either copy)."""
        with _transaction(self._sessions, "finding a clip") as session:
            row = session.scalars(
                select(ClipRow).where(or_(ClipRow.media == rel_path, ClipRow.media_kept == rel_path)).limit(1)
            ).first()
            return _record(row) if row is not None else None
