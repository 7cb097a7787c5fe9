"""Tables, folding and repository of the faces feature: watchlist subjects and calibrations.

Only enrolled subjects' reference images and embeddings are ever stored here. Probes of
people who did not match are never passed to this module (ACCOUNTABILITY.md).

Tables defined here derive from :class:`vigil.store.tables.Base`; ``store/schema.py`` imports
this module so Alembic and the schema test see them. Migration: ``0003_faces``.
"""

from __future__ import annotations

import builtins
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray
from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, LargeBinary, String, Text, delete, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from vigil.core.accountability import Authorisation
from vigil.core.clock import utcnow
from vigil.core.errors import ConflictError, InputError, NotFoundError, PolicyError, VigilError
from vigil.core.ids import new_id
from vigil.recognise.gallery import Gallery, GalleryEntry
from vigil.store.media import MediaStore
from vigil.store.session import _transaction
from vigil.store.tables import Base, UTCDateTime

SUBJECT_ID_MAX = 128
MAX_STORED_SIDE_PX = 2048
"""Reference images are stored no larger than this (long side): enough for a reviewer."""


class FaceSubjectRow(Base):
    __tablename__ = "face_subjects"

    subject_id: Mapped[str] = mapped_column(String(SUBJECT_ID_MAX), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(200))
    legal_basis: Mapped[str] = mapped_column(Text)
    authorised_by: Mapped[str] = mapped_column(String(128))
    enrolled_by: Mapped[str] = mapped_column(String(128))
    enrolled_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_face_subjects_expires_at", "expires_at"),)


class FaceReferenceRow(Base):
    __tablename__ = "face_references"

    reference_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    subject_id: Mapped[str] = mapped_column(
        String(SUBJECT_ID_MAX), ForeignKey("face_subjects.subject_id", ondelete="CASCADE")
    )
    media_path: Mapped[str] = mapped_column(String(512))
    provenance: Mapped[str] = mapped_column(Text)
    source_name: Mapped[str] = mapped_column(String(512))
    embedder: Mapped[str] = mapped_column(String(64))
    embedding: Mapped[bytes] = mapped_column(LargeBinary)
    face_px: Mapped[float] = mapped_column(Float)
    detector_score: Mapped[float] = mapped_column(Float)

    __table_args__ = (Index("ix_face_references_subject_id", "subject_id"),)


class FaceCalibrationRow(Base):
    __tablename__ = "face_calibrations"

    calibration_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    dataset: Mapped[str] = mapped_column(Text)
    embedder: Mapped[str] = mapped_column(String(64))
    n_images: Mapped[int] = mapped_column(Integer)
    n_no_face: Mapped[int] = mapped_column(Integer)
    n_genuine: Mapped[int] = mapped_column(Integer)
    n_impostor: Mapped[int] = mapped_column(Integer)
    eer: Mapped[float] = mapped_column(Float)
    target_fmr: Mapped[float] = mapped_column(Float)
    measured_fmr: Mapped[float] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float)
    tar: Mapped[float] = mapped_column(Float)
    set_by: Mapped[str] = mapped_column(String(128))
    supervisor: Mapped[str | None] = mapped_column(String(128))
    active: Mapped[bool] = mapped_column(Boolean)


@dataclass(frozen=True, slots=True)
class NewReference:
    """A reference image ready to enrol: its decoded pixels, embedding and where it came from."""

    source_name: str
    image: NDArray[np.uint8]
    embedding: NDArray[np.float32]
    provenance: str
    face_px: float
    detector_score: float
    face_box: tuple[float, float, float, float] | None = None
    """The enrolled face in ``image`` (pixels): other faces in the photo are blurred when stored."""


@dataclass(frozen=True, slots=True)
class ReferenceRecord:
    reference_id: str
    media_path: str
    provenance: str
    source_name: str
    embedder: str
    face_px: float


@dataclass(frozen=True, slots=True)
class SubjectRecord:
    """A watchlist subject as an operator sees it (no embeddings)."""

    subject_id: str
    display_name: str
    legal_basis: str
    authorised_by: str
    enrolled_by: str
    enrolled_at: datetime
    expires_at: datetime
    references: tuple[ReferenceRecord, ...]

    def expired(self, now: datetime) -> bool:
        return self.expires_at <= now


@dataclass(frozen=True, slots=True)
class CalibrationRecord:
    calibration_id: str
    created_at: datetime
    dataset: str
    embedder: str
    n_images: int
    n_no_face: int
    n_genuine: int
    n_impostor: int
    eer: float
    target_fmr: float
    measured_fmr: float
    threshold: float
    tar: float
    set_by: str
    supervisor: str | None
    active: bool


def fold_faces(session: Session, events: Sequence[Any]) -> None:
    """Faces events carry only counters; candidates are folded by ``fold_candidates``."""


def _check_subject_id(subject_id: str) -> str:
    sid = subject_id.strip()
    if not sid or len(sid) > SUBJECT_ID_MAX or any(c in sid for c in "/\\\x00") or sid.startswith("."):
        raise InputError(
            f"subject id {subject_id!r} is not valid: 1-{SUBJECT_ID_MAX} characters, no '/', '\\\\' or leading '.'"
        )
    return sid


def _for_storage(image: NDArray[np.uint8]) -> NDArray[np.uint8]:
    h, w = image.shape[:2]
    scale = MAX_STORED_SIDE_PX / max(h, w)
    if scale >= 1:
        return image
    return np.asarray(cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA))


def _save_reference(media: MediaStore, ref_id: str, ref: NewReference) -> str:
    """The reference photo as stored: the enrolled face clear, every other face in it blurred."""
    stored = _for_storage(ref.image)
    rel = f"faces/references/{ref_id}.jpg"
    if ref.face_box is None or media.redactor is None:
        # No box to keep (an old caller), or no redactor (a store built for reading): keep the
        # photo as enrolled rather than lose the reference a reviewer compares against.
        return media.save_jpeg(rel, stored, 95, keep_faces="watchlist reference")
    k = stored.shape[1] / ref.image.shape[1]
    x1, y1, x2, y2 = (v * k for v in ref.face_box)
    return media.save_jpeg(rel, stored, 95, keep_regions=[(x1, y1, x2, y2)])


class FacesRepository:
    """The watchlist (subjects, reference images, embeddings) and the calibrations."""

    def __init__(self, sessions: sessionmaker[Session], write_sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._write_sessions = write_sessions

    # -- watchlist -------------------------------------------------------------------------

    def enrol(
        self,
        *,
        subject_id: str,
        display_name: str,
        authorisation: Authorisation,
        references: Sequence[NewReference],
        embedder: str,
        media: MediaStore,
        max_expiry_days: float,
        cap: int,
        now: datetime | None = None,
        on_written: Callable[[Session, SubjectRecord], None] | None = None,
    ) -> SubjectRecord:
        """Add a subject with its reference images, all or nothing.

        Images are written under ``faces/references/`` first; the rows follow in one
        transaction, and on any failure the images written are deleted again. ``on_written``
        runs inside that transaction (e.g. to append the audit record).

        Raises:
            PolicyError: missing legal basis/authoriser/enroller, bad expiry, watchlist full.
            InputError: bad subject id or display name, no reference image, missing provenance.
            ConflictError: the subject id is already enrolled.
        """
        when = now or utcnow()
        sid = _check_subject_id(subject_id)
        name = display_name.strip()
        if not name:
            raise InputError("a display name is required")
        authorisation.check(when, max_expiry_days)
        if not references:
            raise InputError("at least one reference image is required")
        for ref in references:
            if len(ref.provenance.strip()) < 3:
                raise PolicyError(f"{ref.source_name}: provenance (where the image came from) is required")
        with _transaction(self._sessions, "checking the watchlist") as session:
            if session.get(FaceSubjectRow, sid) is not None:
                raise ConflictError(f"subject {sid!r} is already enrolled; remove it first or use another id")
            size = session.scalar(select(func.count()).select_from(FaceSubjectRow)) or 0
            if size >= cap:
                raise PolicyError(
                    f"the watchlist holds {size} subjects, this deployment's cap ({cap}); remove or purge entries first"
                )
        written: list[str] = []
        try:
            rows: list[FaceReferenceRow] = []
            for ref in references:
                ref_id = new_id()
                rel = _save_reference(media, ref_id, ref)
                written.append(rel)
                rows.append(
                    FaceReferenceRow(
                        reference_id=ref_id,
                        subject_id=sid,
                        media_path=rel,
                        provenance=ref.provenance.strip(),
                        source_name=ref.source_name[:512],
                        embedder=embedder,
                        embedding=np.asarray(ref.embedding, np.float32).tobytes(),
                        face_px=float(ref.face_px),
                        detector_score=float(ref.detector_score),
                    )
                )
            with _transaction(self._write_sessions, "enrolling a subject") as session:
                if session.get(FaceSubjectRow, sid) is not None:
                    raise ConflictError(f"subject {sid!r} is already enrolled; remove it first or use another id")
                session.add(
                    FaceSubjectRow(
                        subject_id=sid,
                        display_name=name[:200],
                        legal_basis=authorisation.legal_basis.strip(),
                        authorised_by=authorisation.authorised_by.strip(),
                        enrolled_by=authorisation.entered_by.strip(),
                        enrolled_at=when,
                        expires_at=authorisation.expires_at,
                    )
                )
                session.flush()
                session.add_all(rows)
                if on_written is not None:
                    session.flush()
                    on_written(session, self._record(session, session.get_one(FaceSubjectRow, sid)))
        except BaseException:
            for rel in written:
                with contextlib.suppress(VigilError):  # the enrolment error is what the user needs
                    media.delete(rel)
            raise
        return self.get(sid)

    def get(self, subject_id: str) -> SubjectRecord:
        with _transaction(self._sessions, "reading a subject") as session:
            row = session.get(FaceSubjectRow, subject_id)
            if row is None:
                raise NotFoundError(f"no watchlist subject {subject_id!r}")
            return self._record(session, row)

    def list(self, *, include_expired: bool = True, now: datetime | None = None) -> builtins.list[SubjectRecord]:
        stmt = select(FaceSubjectRow).order_by(FaceSubjectRow.subject_id)
        if not include_expired:
            stmt = stmt.where(FaceSubjectRow.expires_at > (now or utcnow()))
        with _transaction(self._sessions, "listing subjects") as session:
            return [self._record(session, row) for row in session.scalars(stmt)]

    def count(self) -> int:
        with _transaction(self._sessions, "counting subjects") as session:
            return int(session.scalar(select(func.count()).select_from(FaceSubjectRow)) or 0)

    def remove(
        self,
        subject_id: str,
        media: MediaStore,
        on_written: Callable[[Session, SubjectRecord], None] | None = None,
    ) -> SubjectRecord:
        """Delete a subject, its embeddings and its reference images (``on_written`` runs in the
        deleting transaction).

        Raises:
            NotFoundError: no such subject.
        """
        with _transaction(self._write_sessions, "removing a subject") as session:
            row = session.get(FaceSubjectRow, subject_id)
            if row is None:
                raise NotFoundError(f"no watchlist subject {subject_id!r}")
            record = self._record(session, row)
            session.execute(delete(FaceReferenceRow).where(FaceReferenceRow.subject_id == subject_id))
            session.delete(row)
            if on_written is not None:
                on_written(session, record)
        for ref in record.references:
            media.delete(ref.media_path)
        return record

    def purge_expired(
        self,
        media: MediaStore,
        now: datetime | None = None,
        on_written: Callable[[Session, SubjectRecord], None] | None = None,
    ) -> builtins.list[str]:
        """Remove every expired subject (images and embeddings); return their ids."""
        when = now or utcnow()
        with _transaction(self._sessions, "finding expired subjects") as session:
            ids = list(session.scalars(select(FaceSubjectRow.subject_id).where(FaceSubjectRow.expires_at <= when)))
        for sid in ids:
            self.remove(sid, media, on_written)
        return ids

    def gallery(self, embedder: str, dim: int = 128, now: datetime | None = None) -> Gallery:
        """Unexpired subjects' embeddings from ``embedder``, ready to match (expiry rechecked per match)."""
        when = now or utcnow()
        stmt = (
            select(FaceReferenceRow, FaceSubjectRow.expires_at)
            .join(FaceSubjectRow, FaceSubjectRow.subject_id == FaceReferenceRow.subject_id)
            .where(FaceSubjectRow.expires_at > when, FaceReferenceRow.embedder == embedder)
            .order_by(FaceReferenceRow.subject_id, FaceReferenceRow.reference_id)
        )
        with _transaction(self._sessions, "loading the watchlist") as session:
            entries = [
                GalleryEntry(ref.subject_id, ref.media_path, np.frombuffer(ref.embedding, np.float32).copy(), expires)
                for ref, expires in session.execute(stmt)
            ]
        return Gallery(entries, dim)

    def _record(self, session: Session, row: FaceSubjectRow) -> SubjectRecord:
        refs = tuple(
            ReferenceRecord(r.reference_id, r.media_path, r.provenance, r.source_name, r.embedder, r.face_px)
            for r in session.scalars(
                select(FaceReferenceRow)
                .where(FaceReferenceRow.subject_id == row.subject_id)
                .order_by(FaceReferenceRow.reference_id)
            )
        )
        return SubjectRecord(
            row.subject_id,
            row.display_name,
            row.legal_basis,
            row.authorised_by,
            row.enrolled_by,
            row.enrolled_at,
            row.expires_at,
            refs,
        )

    # -- calibration -----------------------------------------------------------------------

    def set_calibration(
        self,
        record: CalibrationRecord,
        *,
        floor: float,
        on_written: Callable[[Session, CalibrationRecord], None] | None = None,
    ) -> CalibrationRecord:
        """Store a calibration and make it the active threshold (the previous one is kept, inactive;
        ``on_written`` runs in the same transaction).

        Raises:
            PolicyError: the threshold is below the deployment floor and no supervisor is named.
        """
        if record.threshold < floor and not (record.supervisor and record.supervisor.strip()):
            raise PolicyError(
                f"threshold {record.threshold:.4f} is below this deployment's floor {floor:.4f}; "
                "a supervisor must approve it (--supervisor NAME)"
            )
        if len(record.set_by.strip()) < 2:
            raise PolicyError("setting a threshold needs the name of the person doing it (--by)")
        with _transaction(self._write_sessions, "storing a calibration") as session:
            for row in session.scalars(select(FaceCalibrationRow).where(FaceCalibrationRow.active.is_(True))):
                row.active = False
            session.add(FaceCalibrationRow(**{**_calibration_fields(record), "active": True}))
            stored = CalibrationRecord(**{**_calibration_fields(record), "active": True})
            if on_written is not None:
                session.flush()
                on_written(session, stored)
        return stored

    def active_calibration(self, embedder: str | None = None) -> CalibrationRecord | None:
        stmt = select(FaceCalibrationRow).where(FaceCalibrationRow.active.is_(True))
        if embedder is not None:
            stmt = stmt.where(FaceCalibrationRow.embedder == embedder)
        with _transaction(self._sessions, "reading the active calibration") as session:
            row = session.scalars(stmt.order_by(FaceCalibrationRow.created_at.desc())).first()
            return None if row is None else _calibration_record(row)

    def calibrations(self) -> builtins.list[CalibrationRecord]:
        with _transaction(self._sessions, "listing calibrations") as session:
            rows = session.scalars(select(FaceCalibrationRow).order_by(FaceCalibrationRow.created_at))
            return [_calibration_record(r) for r in rows]


_CAL_FIELDS = (
    "calibration_id",
    "created_at",
    "dataset",
    "embedder",
    "n_images",
    "n_no_face",
    "n_genuine",
    "n_impostor",
    "eer",
    "target_fmr",
    "measured_fmr",
    "threshold",
    "tar",
    "set_by",
    "supervisor",
)


def _calibration_fields(record: CalibrationRecord) -> dict[str, Any]:
    return {name: getattr(record, name) for name in _CAL_FIELDS}


def _calibration_record(row: FaceCalibrationRow) -> CalibrationRecord:
    return CalibrationRecord(**{name: getattr(row, name) for name in _CAL_FIELDS}, active=row.active)
