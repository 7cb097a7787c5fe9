"""Tables, folding and repository of the crowd feature (aggregate counts only).

* ``crowd_counts``: the zone-count time series, one row per sample and zone (``*`` = whole frame);
* ``crowd_line_counts``: in/out crossings per line and reporting period;
* ``crowd_alerts``: raised and cleared alerts;
* ``crowd_heatmaps``: occupancy grids per period (summed over a time range by the report);
* ``crowd_calibrations``: per-camera count corrections fitted from labelled frames (every fit
  is kept; the newest active one applies), written with its audit record in one transaction.

Migrations: ``migrations/versions/0005_crowd.py``, ``0007_crowd_calibrations.py``; on PostgreSQL
``crowd_counts`` is partitioned by day (``0012_pg_time_partitions.py``, ``store/partitions.py``).

Retention (:meth:`CrowdRepository.purge_aggregates`, ``crowd.retention_days``): zone counts,
line counts and heatmaps older than the cutoff go; on PostgreSQL a day of zone counts wholly
before it is dropped in one statement. Rows of an event a case on legal hold names stay (and
keep their day's partition). Alerts are left to the events' retention (their clips follow it).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import Boolean, Float, Index, Integer, String, delete, func, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from vigil.core.clock import utcnow
from vigil.core.errors import InputError, NotFoundError
from vigil.events.crowd import CrowdAlert, CrowdHeatmap, CrowdLineCounts, CrowdZoneCount
from vigil.store.cases import CaseItemRow, CaseRow
from vigil.store.partitions import CROWD_COUNTS, any_of, drop_expired, is_partitioned, lock_holds
from vigil.store.session import _check_aware, _transaction
from vigil.store.tables import Base, PayloadJSON, UTCDateTime

TOTAL_ZONE = "*"
"""``zone_id`` of the whole-frame count."""


class CrowdCountRow(Base):
    """One zone's count at one sample."""

    __tablename__ = "crowd_counts"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    zone_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    camera_id: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    count: Mapped[int] = mapped_column(Integer)
    detection_count: Mapped[int] = mapped_column(Integer)
    density_count: Mapped[float | None] = mapped_column(Float)
    method: Mapped[str] = mapped_column(String(16))
    density_per_m2: Mapped[float | None] = mapped_column(Float)

    __table_args__ = (Index("ix_crowd_counts_camera_id_at", "camera_id", "at"),)


class CrowdLineCountRow(Base):
    """Crossings of one line in one reporting period."""

    __tablename__ = "crowd_line_counts"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    line_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    camera_id: Mapped[str] = mapped_column(String(128))
    period_start: Mapped[datetime] = mapped_column(UTCDateTime())
    period_end: Mapped[datetime] = mapped_column(UTCDateTime())
    in_count: Mapped[int] = mapped_column(Integer)
    out_count: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index("ix_crowd_line_counts_camera_id_period_end", "camera_id", "period_end"),)


class CrowdAlertRow(Base):
    """One alert transition (raised or cleared)."""

    __tablename__ = "crowd_alerts"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    camera_id: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    kind: Mapped[str] = mapped_column(String(32))
    subject_type: Mapped[str] = mapped_column(String(8))
    subject_id: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    value: Mapped[float] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(32))
    since: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_crowd_alerts_camera_id_at", "camera_id", "at"),)


class CrowdHeatmapRow(Base):
    """Occupancy grid of one camera and period."""

    __tablename__ = "crowd_heatmaps"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    camera_id: Mapped[str] = mapped_column(String(128))
    period_start: Mapped[datetime] = mapped_column(UTCDateTime())
    period_end: Mapped[datetime] = mapped_column(UTCDateTime())
    cols: Mapped[int] = mapped_column(Integer)
    rows: Mapped[int] = mapped_column(Integer)
    frames: Mapped[int] = mapped_column(Integer)
    frame_width: Mapped[int] = mapped_column(Integer)
    frame_height: Mapped[int] = mapped_column(Integer)
    cells: Mapped[list[int]] = mapped_column(PayloadJSON)

    __table_args__ = (Index("ix_crowd_heatmaps_camera_id_period_end", "camera_id", "period_end"),)


class CrowdCalibrationRow(Base):
    """One per-camera count correction, fitted from labelled frames of that camera."""

    __tablename__ = "crowd_calibrations"

    calibration_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    camera_id: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(128))
    active: Mapped[bool] = mapped_column(Boolean)
    frames: Mapped[int] = mapped_column(Integer)
    people: Mapped[int] = mapped_column(Integer)
    frame_width: Mapped[int] = mapped_column(Integer)
    frame_height: Mapped[int] = mapped_column(Integer)
    correction: Mapped[dict[str, Any]] = mapped_column(PayloadJSON)
    """What the counts are multiplied by (``vigil.crowd.calibration.CameraCalibration``)."""
    fit: Mapped[dict[str, Any]] = mapped_column(PayloadJSON)
    """How it was made and how it does: counter settings, source folder, errors before and after."""

    __table_args__ = (Index("ix_crowd_calibrations_camera_id_created_at", "camera_id", "created_at"),)


def fold_crowd(session: Session, events: Sequence[Any]) -> None:
    """Fold newly stored crowd events into this feature's tables (same transaction)."""
    for e in events:
        if isinstance(e, CrowdZoneCount):
            for zone in (e.total, *e.zones):
                session.add(
                    CrowdCountRow(
                        event_id=e.event_id,
                        zone_id=zone.zone_id,
                        camera_id=e.camera_id,
                        at=e.occurred_at,
                        count=zone.count,
                        detection_count=zone.detection_count,
                        density_count=zone.density_count,
                        method=zone.method,
                        density_per_m2=zone.density_per_m2,
                    )
                )
        elif isinstance(e, CrowdLineCounts):
            for line in e.lines:
                session.add(
                    CrowdLineCountRow(
                        event_id=e.event_id,
                        line_id=line.line_id,
                        camera_id=e.camera_id,
                        period_start=e.period_start,
                        period_end=e.occurred_at,
                        in_count=line.in_count,
                        out_count=line.out_count,
                    )
                )
        elif isinstance(e, CrowdAlert):
            session.add(
                CrowdAlertRow(
                    event_id=e.event_id,
                    camera_id=e.camera_id,
                    at=e.occurred_at,
                    kind=e.kind,
                    subject_type=e.subject_type,
                    subject_id=e.subject_id,
                    state=e.state,
                    value=e.value,
                    threshold=e.threshold,
                    unit=e.unit,
                    since=e.since,
                )
            )
        elif isinstance(e, CrowdHeatmap):
            session.add(
                CrowdHeatmapRow(
                    event_id=e.event_id,
                    camera_id=e.camera_id,
                    period_start=e.period_start,
                    period_end=e.occurred_at,
                    cols=e.cols,
                    rows=e.rows,
                    frames=e.frames,
                    frame_width=e.frame_width,
                    frame_height=e.frame_height,
                    cells=list(e.cells),
                )
            )


@dataclass(frozen=True, slots=True)
class CountPoint:
    """One zone's count at one time."""

    at: datetime
    zone_id: str
    count: int
    detection_count: int
    density_count: float | None
    method: str
    density_per_m2: float | None


@dataclass(frozen=True, slots=True)
class LineTotal:
    """Crossings of one line over a time range."""

    line_id: str
    in_count: int
    out_count: int


@dataclass(frozen=True, slots=True)
class AlertRecord:
    """One alert transition."""

    at: datetime
    kind: str
    subject_type: str
    subject_id: str
    state: str
    value: float
    threshold: float
    unit: str
    since: datetime


@dataclass(frozen=True, slots=True)
class HeatmapTotal:
    """Occupancy summed over a time range: mean people per sampled frame in each cell."""

    grid: NDArray[np.float64]
    frames: int
    periods: int
    frame_width: int
    frame_height: int


@dataclass(frozen=True, slots=True)
class CalibrationRecord:
    """A stored per-camera calibration."""

    calibration_id: str
    camera_id: str
    created_at: datetime
    created_by: str
    active: bool
    frames: int
    people: int
    frame_width: int
    frame_height: int
    correction: dict[str, Any]
    fit: dict[str, Any]


def _calibration(r: CrowdCalibrationRow) -> CalibrationRecord:
    return CalibrationRecord(
        r.calibration_id,
        r.camera_id,
        r.created_at,
        r.created_by,
        r.active,
        r.frames,
        r.people,
        r.frame_width,
        r.frame_height,
        dict(r.correction),
        dict(r.fit),
    )


@dataclass(frozen=True, slots=True)
class NewCalibration:
    """What :meth:`CrowdRepository.add_calibration` stores."""

    camera_id: str
    created_by: str
    frames: int
    people: int
    frame_width: int
    frame_height: int
    correction: dict[str, Any]
    fit: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CrowdPurge:
    """What a crowd retention run deleted: rows by table (counts only) and day partitions dropped."""

    counts: dict[str, int]
    partitions_dropped: tuple[str, ...] = ()
    """PostgreSQL: day partitions of ``crowd_counts`` dropped whole (their rows are in ``counts``)."""
    partitions_kept_for_holds: tuple[str, ...] = ()
    """Partitions old enough to drop kept because they hold a row of an event on legal hold."""


def _rows(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


class CrowdRepository:
    """Queries of the crowd feature (its rows are written by :func:`fold_crowd`)."""

    def __init__(self, sessions: sessionmaker[Session], write_sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._write_sessions = write_sessions

    def purge_aggregates(self, *, retention_days: float, now: datetime | None = None) -> CrowdPurge:
        """Delete zone counts, line counts and heatmaps older than ``retention_days`` (one transaction).

        Rows of an event that a case on legal hold names are kept. On PostgreSQL, each day
        partition of ``crowd_counts`` wholly before the cutoff is dropped whole unless it holds
        such a row; the remaining old rows (the boundary day, a held day) go row by row.
        """
        if retention_days <= 0:
            raise InputError(f"retention_days must be > 0, got {retention_days}")
        _check_aware(now=now)
        cutoff = (now or utcnow()) - timedelta(days=retention_days)
        with _transaction(self._write_sessions, "purging crowd aggregates") as session:
            conn = session.connection()
            partitioned = conn.dialect.name == "postgresql" and is_partitioned(conn)
            if partitioned:
                lock_holds(conn)  # no hold may appear between the check and the drop
            held = {
                str(i)
                for i in session.scalars(
                    select(CaseItemRow.item_id)
                    .join(CaseRow, CaseRow.case_id == CaseItemRow.case_id)
                    .where(CaseRow.legal_hold.is_(True), CaseItemRow.item_type == "event")
                )
            }
            dropped_rows = 0
            dropped: tuple[str, ...] = ()
            kept: tuple[str, ...] = ()
            if partitioned:
                result = drop_expired(
                    conn, CROWD_COUNTS, cutoff, lambda c, partition: any_of(c, partition, "event_id", held)
                )
                dropped_rows, dropped, kept = result.rows, result.dropped, result.kept_for_holds
            held_list = sorted(held)
            counts = {
                "crowd_counts": dropped_rows
                + _rows(
                    session.execute(
                        delete(CrowdCountRow).where(CrowdCountRow.at < cutoff, CrowdCountRow.event_id.not_in(held_list))
                    )
                ),
                "crowd_line_counts": _rows(
                    session.execute(
                        delete(CrowdLineCountRow).where(
                            CrowdLineCountRow.period_end < cutoff, CrowdLineCountRow.event_id.not_in(held_list)
                        )
                    )
                ),
                "crowd_heatmaps": _rows(
                    session.execute(
                        delete(CrowdHeatmapRow).where(
                            CrowdHeatmapRow.period_end < cutoff, CrowdHeatmapRow.event_id.not_in(held_list)
                        )
                    )
                ),
            }
        return CrowdPurge(counts=counts, partitions_dropped=dropped, partitions_kept_for_holds=kept)

    def cameras(self) -> list[str]:
        """Cameras with any crowd count stored."""
        with _transaction(self._sessions, "listing crowd cameras") as session:
            return list(session.scalars(select(CrowdCountRow.camera_id).distinct().order_by(CrowdCountRow.camera_id)))

    def series(
        self, camera_id: str, since: datetime | None = None, limit: int = 100_000, until: datetime | None = None
    ) -> list[CountPoint]:
        """The count time series of ``camera_id`` (every zone and ``*``) in [since, until), oldest first."""
        _check_aware(since=since, until=until)
        query = select(CrowdCountRow).where(CrowdCountRow.camera_id == camera_id)
        if since is not None:
            query = query.where(CrowdCountRow.at >= since)
        if until is not None:
            query = query.where(CrowdCountRow.at < until)
        query = query.order_by(CrowdCountRow.at, CrowdCountRow.zone_id).limit(limit)
        with _transaction(self._sessions, f"reading crowd counts of {camera_id}") as session:
            return [
                CountPoint(r.at, r.zone_id, r.count, r.detection_count, r.density_count, r.method, r.density_per_m2)
                for r in session.scalars(query)
            ]

    def latest(self, camera_id: str) -> list[CountPoint]:
        """The newest sample of ``camera_id`` (every zone and ``*``); empty if none."""
        with _transaction(self._sessions, f"reading the latest crowd counts of {camera_id}") as session:
            newest = session.scalar(select(func.max(CrowdCountRow.at)).where(CrowdCountRow.camera_id == camera_id))
            if newest is None:
                return []
            query = select(CrowdCountRow).where(CrowdCountRow.camera_id == camera_id, CrowdCountRow.at == newest)
            return [
                CountPoint(r.at, r.zone_id, r.count, r.detection_count, r.density_count, r.method, r.density_per_m2)
                for r in session.scalars(query.order_by(CrowdCountRow.zone_id))
            ]

    def line_totals(
        self, camera_id: str, since: datetime | None = None, until: datetime | None = None
    ) -> list[LineTotal]:
        """In/out totals per line of ``camera_id`` over the periods ending in [since, until)."""
        _check_aware(since=since, until=until)
        query = select(
            CrowdLineCountRow.line_id, func.sum(CrowdLineCountRow.in_count), func.sum(CrowdLineCountRow.out_count)
        ).where(CrowdLineCountRow.camera_id == camera_id)
        if since is not None:
            query = query.where(CrowdLineCountRow.period_end >= since)
        if until is not None:
            query = query.where(CrowdLineCountRow.period_end < until)
        query = query.group_by(CrowdLineCountRow.line_id).order_by(CrowdLineCountRow.line_id)
        with _transaction(self._sessions, f"reading line counts of {camera_id}") as session:
            return [LineTotal(line, int(i or 0), int(o or 0)) for line, i, o in session.execute(query)]

    def alerts(self, camera_id: str, since: datetime | None = None, until: datetime | None = None) -> list[AlertRecord]:
        """Alert transitions of ``camera_id`` in [since, until), oldest first."""
        _check_aware(since=since, until=until)
        query = select(CrowdAlertRow).where(CrowdAlertRow.camera_id == camera_id)
        if since is not None:
            query = query.where(CrowdAlertRow.at >= since)
        if until is not None:
            query = query.where(CrowdAlertRow.at < until)
        with _transaction(self._sessions, f"reading crowd alerts of {camera_id}") as session:
            return [
                AlertRecord(r.at, r.kind, r.subject_type, r.subject_id, r.state, r.value, r.threshold, r.unit, r.since)
                for r in session.scalars(query.order_by(CrowdAlertRow.at))
            ]

    def heatmap(
        self, camera_id: str, since: datetime | None = None, until: datetime | None = None
    ) -> HeatmapTotal | None:
        """Occupancy of ``camera_id`` summed over the periods ending in [since, until) (None if none).

        Periods with another grid shape than the newest one (a config change) are left out.
        """
        _check_aware(since=since, until=until)
        query = select(CrowdHeatmapRow).where(CrowdHeatmapRow.camera_id == camera_id)
        if since is not None:
            query = query.where(CrowdHeatmapRow.period_end >= since)
        if until is not None:
            query = query.where(CrowdHeatmapRow.period_end < until)
        with _transaction(self._sessions, f"reading heatmaps of {camera_id}") as session:
            rows = list(session.scalars(query.order_by(CrowdHeatmapRow.period_end.desc())))
        if not rows:
            return None
        newest = rows[0]
        same = [r for r in rows if (r.cols, r.rows) == (newest.cols, newest.rows)]
        total = np.zeros((newest.rows, newest.cols), dtype=np.float64)
        frames = 0
        for r in same:
            total += np.asarray(r.cells, dtype=np.float64).reshape(r.rows, r.cols)
            frames += r.frames
        grid = total / frames if frames else total
        return HeatmapTotal(grid, frames, len(same), newest.frame_width, newest.frame_height)

    def add_calibration(
        self,
        new: NewCalibration,
        *,
        now: datetime,
        on_written: Callable[[Session, CalibrationRecord], None] | None = None,
    ) -> CalibrationRecord:
        """Store a calibration as the camera's active one (the previous one stays, inactive), and
        run ``on_written`` (the audit record) in the same transaction: both or neither."""
        _check_aware(now=now)
        with _transaction(self._write_sessions, f"storing a crowd calibration of {new.camera_id}") as session:
            session.execute(
                update(CrowdCalibrationRow)
                .where(CrowdCalibrationRow.camera_id == new.camera_id, CrowdCalibrationRow.active.is_(True))
                .values(active=False)
            )
            row = CrowdCalibrationRow(
                calibration_id=uuid.uuid4().hex,
                camera_id=new.camera_id,
                created_at=now,
                created_by=new.created_by,
                active=True,
                frames=new.frames,
                people=new.people,
                frame_width=new.frame_width,
                frame_height=new.frame_height,
                correction=new.correction,
                fit=new.fit,
            )
            session.add(row)
            session.flush()
            record = _calibration(row)
            if on_written is not None:
                on_written(session, record)
            return record

    def remove_calibration(
        self, camera_id: str, *, on_written: Callable[[Session, CalibrationRecord], None] | None = None
    ) -> CalibrationRecord:
        """Switch off the camera's active calibration (kept, inactive, for the record).

        Raises:
            NotFoundError: the camera has no active calibration.
        """
        with _transaction(self._write_sessions, f"removing the crowd calibration of {camera_id}") as session:
            row = session.scalars(
                select(CrowdCalibrationRow).where(
                    CrowdCalibrationRow.camera_id == camera_id, CrowdCalibrationRow.active.is_(True)
                )
            ).first()
            if row is None:
                raise NotFoundError(f"camera {camera_id!r} has no active crowd calibration")
            row.active = False
            session.flush()
            record = _calibration(row)
            if on_written is not None:
                on_written(session, record)
            return record

    def active_calibration(self, camera_id: str) -> CalibrationRecord | None:
        """The camera's calibration in force, or None."""
        with _transaction(self._sessions, f"reading the crowd calibration of {camera_id}") as session:
            row = session.scalars(
                select(CrowdCalibrationRow).where(
                    CrowdCalibrationRow.camera_id == camera_id, CrowdCalibrationRow.active.is_(True)
                )
            ).first()
            return None if row is None else _calibration(row)

    def calibrations(self, camera_id: str) -> list[CalibrationRecord]:
        """Every calibration of the camera, newest first."""
        with _transaction(self._sessions, f"listing the crowd calibrations of {camera_id}") as session:
            query = (
                select(CrowdCalibrationRow)
                .where(CrowdCalibrationRow.camera_id == camera_id)
                .order_by(CrowdCalibrationRow.created_at.desc())
            )
            return [_calibration(r) for r in session.scalars(query)]
