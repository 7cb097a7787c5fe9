"""Tables, folding and repository of the plates feature.

``plate_reads`` holds voted reads while retention allows (``plates.retention_hours``; reads
that hit nothing are purged after it, reads that hit a hotlist stay with their candidate and
follow case retention). ``hotlist_entries`` holds listed plates with their accountability
fields; expired entries stop matching at once and are purged by ``purge_expired``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Boolean, Float, Index, String, Text, delete, func, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from vigil.core.accountability import Authorisation
from vigil.core.clock import utcnow
from vigil.core.errors import ConflictError, InputError, NotFoundError
from vigil.core.ids import new_id
from vigil.events.plates import PlateReadEvent
from vigil.plates.hotlist import HotlistPlate
from vigil.store.cases import CaseItemRow, CaseRow
from vigil.store.partitions import PLATE_MISSES, any_of, drop_expired, is_partitioned, lock_holds
from vigil.store.session import _check_aware, _transaction
from vigil.store.tables import Base, UTCDateTime


class PlateReadRow(Base):
    __tablename__ = "plate_reads"

    read_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    camera_id: Mapped[str] = mapped_column(String(128))
    track_id: Mapped[str | None] = mapped_column(String(128))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    plate: Mapped[str] = mapped_column(String(16))
    confidence: Mapped[float] = mapped_column(Float)
    region: Mapped[str | None] = mapped_column(String(8))
    crop: Mapped[str | None] = mapped_column(String(512))
    hit: Mapped[bool] = mapped_column(Boolean)

    __table_args__ = (
        Index("ix_plate_reads_plate_occurred_at", "plate", "occurred_at"),
        Index("ix_plate_reads_hit_occurred_at", "hit", "occurred_at"),
    )


class HotlistEntryRow(Base):
    __tablename__ = "hotlist_entries"

    entry_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    plate: Mapped[str] = mapped_column(String(16))
    legal_basis: Mapped[str] = mapped_column(Text)
    authorised_by: Mapped[str] = mapped_column(String(128))
    entered_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    note: Mapped[str | None] = mapped_column(Text)
    region: Mapped[str | None] = mapped_column(String(16))

    __table_args__ = (Index("ix_hotlist_entries_plate", "plate"),)


@dataclass(frozen=True, slots=True)
class PlateReadRecord:
    read_id: str
    camera_id: str
    track_id: str | None
    occurred_at: datetime
    plate: str
    confidence: float
    region: str | None
    crop: str | None
    hit: bool


@dataclass(frozen=True, slots=True)
class HotlistEntryRecord:
    entry_id: str
    plate: str
    legal_basis: str
    authorised_by: str
    entered_by: str
    created_at: datetime
    expires_at: datetime
    note: str | None
    region: str | None = None
    """The plate region the entry is listed for (``us``, ``uk`` …), or None: any region."""


@dataclass(frozen=True, slots=True)
class NewHotlistEntry:
    """An entry to add: the plate (already checked with ``parse_plate``) and its authorisation."""

    plate: str
    authorisation: Authorisation
    note: str | None = None
    entry_id: str | None = None
    """A chosen id (default: a new one)."""
    region: str | None = None
    """The plate region it is listed for (checked by the hotlist service), or None."""


def fold_plates(session: Session, events: Sequence[Any]) -> None:
    """Fold newly stored ``plates.read`` events into ``plate_reads`` (same transaction)."""
    for e in events:
        if isinstance(e, PlateReadEvent):
            session.add(
                PlateReadRow(
                    read_id=e.event_id,
                    camera_id=e.camera_id,
                    track_id=e.track_id,
                    occurred_at=e.occurred_at,
                    plate=e.plate,
                    confidence=e.confidence,
                    region=e.region,
                    crop=e.crop,
                    hit=e.hit,
                )
            )


def _read(row: PlateReadRow) -> PlateReadRecord:
    return PlateReadRecord(
        row.read_id,
        row.camera_id,
        row.track_id,
        row.occurred_at,
        row.plate,
        row.confidence,
        row.region,
        row.crop,
        row.hit,
    )


def _entry(row: HotlistEntryRow) -> HotlistEntryRecord:
    return HotlistEntryRecord(
        row.entry_id,
        row.plate,
        row.legal_basis,
        row.authorised_by,
        row.entered_by,
        row.created_at,
        row.expires_at,
        row.note,
        row.region,
    )


class PlatesRepository:
    """Hotlist entries and plate reads."""

    def __init__(self, sessions: sessionmaker[Session], write_sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._write_sessions = write_sessions

    # --- hotlist -------------------------------------------------------------------------
    def add_entries(
        self,
        entries: Sequence[NewHotlistEntry],
        *,
        max_days: float,
        now: datetime | None = None,
        on_written: Callable[[Session, list[HotlistEntryRecord]], None] | None = None,
    ) -> list[HotlistEntryRecord]:
        """Add entries in one transaction (all or none); ``on_written`` runs inside it (the audit record).

        Raises:
            PolicyError: an entry lacks its accountability fields or its expiry is out of bounds.
            ConflictError: an active entry for the same plate exists already.
        """
        now = now or utcnow()
        for e in entries:
            e.authorisation.check(now, max_days)
        plates = [e.plate for e in entries]
        dupes = sorted({p for p in plates if plates.count(p) > 1})
        if dupes:
            raise ConflictError(f"plate(s) {', '.join(dupes)} appear more than once in this batch")
        with _transaction(self._write_sessions, "adding hotlist entries") as session:
            if plates:
                existing = session.scalars(
                    select(HotlistEntryRow.plate).where(
                        HotlistEntryRow.plate.in_(plates), HotlistEntryRow.expires_at > now
                    )
                ).all()
                if existing:
                    raise ConflictError(
                        f"plate(s) {', '.join(sorted(set(existing)))} are on the hotlist already; "
                        "remove the old entry first"
                    )
            rows = [
                HotlistEntryRow(
                    entry_id=e.entry_id or new_id(),
                    plate=e.plate,
                    legal_basis=e.authorisation.legal_basis.strip(),
                    authorised_by=e.authorisation.authorised_by.strip(),
                    entered_by=e.authorisation.entered_by.strip(),
                    created_at=now,
                    expires_at=e.authorisation.expires_at,
                    note=e.note,
                    region=e.region,
                )
                for e in entries
            ]
            session.add_all(rows)
            session.flush()
            added = [_entry(r) for r in rows]
            if on_written is not None:
                on_written(session, added)
            return added

    def get_entry(self, entry_id: str) -> HotlistEntryRecord:
        """One entry, expired or not.

        Raises:
            NotFoundError: no such entry.
        """
        with _transaction(self._sessions, "reading a hotlist entry") as session:
            row = session.get(HotlistEntryRow, entry_id)
            if row is None:
                raise NotFoundError(f"no hotlist entry {entry_id!r}")
            return _entry(row)

    def list_entries(self, *, include_expired: bool = False, now: datetime | None = None) -> list[HotlistEntryRecord]:
        now = now or utcnow()
        with _transaction(self._sessions, "listing the hotlist") as session:
            q = select(HotlistEntryRow).order_by(HotlistEntryRow.plate, HotlistEntryRow.created_at)
            if not include_expired:
                q = q.where(HotlistEntryRow.expires_at > now)
            return [_entry(r) for r in session.scalars(q)]

    def active_plates(self, now: datetime | None = None) -> list[HotlistPlate]:
        """Every entry that has not expired, as matching needs it: what the stage matches against."""
        return [HotlistPlate(e.entry_id, e.plate, e.region) for e in self.list_entries(now=now)]

    def remove_entry(
        self, entry_id: str, *, on_written: Callable[[Session, HotlistEntryRecord], None] | None = None
    ) -> HotlistEntryRecord:
        with _transaction(self._write_sessions, "removing a hotlist entry") as session:
            row = session.get(HotlistEntryRow, entry_id)
            if row is None:
                raise NotFoundError(f"no hotlist entry {entry_id!r}; see `vigil hotlist list`")
            record = _entry(row)
            session.delete(row)
            if on_written is not None:
                on_written(session, record)
            return record

    def purge_expired(
        self, now: datetime | None = None, *, on_written: Callable[[Session, int], None] | None = None
    ) -> int:
        """Delete expired entries; how many (``on_written(session, n)`` runs in the same transaction)."""
        now = now or utcnow()
        with _transaction(self._write_sessions, "purging expired hotlist entries") as session:
            result = session.execute(delete(HotlistEntryRow).where(HotlistEntryRow.expires_at <= now))
            n = int(getattr(result, "rowcount", 0) or 0)
            if on_written is not None:
                on_written(session, n)
            return n

    # --- reads ---------------------------------------------------------------------------
    def search(
        self,
        plate: str,
        *,
        retention_hours: float,
        since: datetime | None = None,
        until: datetime | None = None,
        camera_id: str | None = None,
        now: datetime | None = None,
        limit: int = 1000,
    ) -> list[PlateReadRecord]:
        """Reads of ``plate`` still within retention (hits always), newest first."""
        _check_aware(since=since, until=until, now=now)
        now = now or utcnow()
        cutoff = now - timedelta(hours=retention_hours)
        with _transaction(self._sessions, "searching plate reads") as session:
            q = select(PlateReadRow).where(PlateReadRow.plate == plate)
            q = q.where((PlateReadRow.hit.is_(True)) | (PlateReadRow.occurred_at >= cutoff))
            if since is not None:
                q = q.where(PlateReadRow.occurred_at >= since)
            if until is not None:
                q = q.where(PlateReadRow.occurred_at < until)
            if camera_id is not None:
                q = q.where(PlateReadRow.camera_id == camera_id)
            q = q.order_by(PlateReadRow.occurred_at.desc()).limit(limit)
            return [_read(r) for r in session.scalars(q)]

    def get_read(self, read_id: str) -> PlateReadRecord:
        """One stored read.

        Raises:
            NotFoundError: no such read (or retention deleted it).
        """
        with _transaction(self._sessions, "reading a plate read") as session:
            row = session.get(PlateReadRow, read_id)
            if row is None:
                raise NotFoundError(f"no plate read {read_id!r} (retention may have removed it)")
            return _read(row)

    def count_reads(self) -> int:
        with _transaction(self._sessions, "counting plate reads") as session:
            return int(session.scalar(select(func.count()).select_from(PlateReadRow)) or 0)

    def purge_reads(self, *, retention_hours: float, now: datetime | None = None) -> list[PlateReadRecord]:
        """Delete reads that hit nothing and are older than retention; the deleted reads (to delete their crops)."""
        if retention_hours < 0:
            raise InputError(f"retention_hours must be >= 0, got {retention_hours}")
        _check_aware(now=now)
        now = now or utcnow()
        cutoff = now - timedelta(hours=retention_hours)
        with _transaction(self._write_sessions, "purging plate reads") as session:
            conn = session.connection()
            partitioned = conn.dialect.name == "postgresql" and is_partitioned(conn)
            if partitioned:
                lock_holds(conn)  # no hold may appear between the check and the drop
            held_reads, held_tracks = _held(session)
            gone: list[PlateReadRecord] = []
            if partitioned:
                # Misses are partitioned by day: a day wholly past retention goes in one DROP
                # (its reads read first, for their crops), unless a legal hold names one of them.
                def holds_any(c: Any, partition: str) -> bool:
                    return any_of(c, partition, "read_id", held_reads) or any_of(c, partition, "track_id", held_tracks)

                def collect(c: Any, partition: str) -> None:
                    cols = ", ".join(_READ_COLUMNS)
                    for r in c.execute(text(f'SELECT {cols} FROM "{partition}"')):
                        fields = dict(zip(_READ_COLUMNS, r, strict=True))
                        fields["occurred_at"] = fields["occurred_at"].astimezone(UTC)
                        gone.append(PlateReadRecord(**fields))

                drop_expired(conn, PLATE_MISSES, cutoff, holds_any, on_drop=collect)
            rows = session.scalars(
                select(PlateReadRow).where(PlateReadRow.hit.is_(False), PlateReadRow.occurred_at < cutoff)
            ).all()
            kept = [r for r in rows if r.read_id not in held_reads and r.track_id not in held_tracks]
            if kept:
                session.execute(delete(PlateReadRow).where(PlateReadRow.read_id.in_([r.read_id for r in kept])))
            return gone + [_read(r) for r in kept]


_READ_COLUMNS = ("read_id", "camera_id", "track_id", "occurred_at", "plate", "confidence", "region", "crop", "hit")
"""``PlateReadRecord``'s fields, in order, as ``plate_reads`` columns."""


def _held(session: Session) -> tuple[set[str], set[str]]:
    """Read ids (held as plate reads or as their events) and track ids in any case on legal hold."""
    rows = session.execute(
        select(CaseItemRow.item_type, CaseItemRow.item_id)
        .join(CaseRow, CaseRow.case_id == CaseItemRow.case_id)
        .where(CaseRow.legal_hold.is_(True), CaseItemRow.item_type.in_(("event", "plate_read", "track")))
    ).all()
    return {str(i) for t, i in rows if t in ("event", "plate_read")}, {str(i) for t, i in rows if t == "track"}
