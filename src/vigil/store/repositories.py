"""Queries live here, not in handlers. Every SQLAlchemy error leaves as :class:`StoreError`."""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import psycopg
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from vigil.core.clock import utcnow
from vigil.core.errors import StoreError
from vigil.events import (
    AnyEvent,
    CameraHealth,
    EventDecodeError,
    TrackEnded,
    TrackEvent,
    TrackStarted,
    TrackUpdated,
    event_from_dict,
)
from vigil.store.bulk import add_many_postgres
from vigil.store.feature_folds import fold_features
from vigil.store.folding import fold_health, fold_tracks
from vigil.store.partitions import PartitionManager
from vigil.store.records import HealthRecord, TrackRecord
from vigil.store.session import _check_aware, _check_page, _transaction
from vigil.store.tables import CameraHealthRow, EventRow, TrackRow


class EventRepository:
    """The ``events`` table: idempotent writes by event id, filtered reads.

    Args:
        sessions: for reads.
        write_sessions: for writes (see :func:`vigil.store.engine.writer`); defaults to ``sessions``.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        write_sessions: sessionmaker[Session] | None = None,
        partitions: PartitionManager | None = None,
    ) -> None:
        self._sessions = sessions
        self._write_sessions = write_sessions or sessions
        bind = sessions.kw.get("bind")
        self._postgres = bind is not None and bind.dialect.name == "postgresql"
        self._partitions = partitions if partitions is not None or bind is None else PartitionManager(bind)

    def add_many(self, events: Iterable[AnyEvent]) -> int:
        """Store ``events`` and fold them into tracks/health, all in one transaction.

        Events whose id is already stored (or repeated in the batch) are skipped, so a
        redelivered batch changes nothing. If anything fails, nothing of the batch is written.

        Returns:
            How many events were newly stored.

        Raises:
            StoreError: the database refused the batch (nothing was written).
        """
        return len(self._add_orm(events))

    def add_batch(self, events: Iterable[AnyEvent]) -> builtins.list[AnyEvent]:
        """Like :meth:`add_many`, for the indexer's large batches; returns the newly stored events.

        On PostgreSQL it takes the bulk path (``COPY`` and set-based upserts, ``store/bulk.py``),
        several times faster with the same results; elsewhere it is :meth:`add_many`.

        Raises:
            StoreError: the database refused the batch (nothing was written).
        """
        unique: dict[str, AnyEvent] = {}
        for event in events:
            unique.setdefault(event.event_id, event)
        if not unique:
            return []
        if not self._postgres:
            return self._add_orm(unique.values())
        self._ensure_partitions(unique.values())
        try:
            return self._add_bulk(builtins.list(unique.values()))
        except psycopg.errors.CheckViolation:
            # A day's partition was dropped under us (retention in another process, which
            # only drops days older than its cutoff): create it again and store.
            if self._partitions is None:
                raise
            self._partitions.forget()
            self._ensure_partitions(unique.values())
            return self._add_bulk(builtins.list(unique.values()))

    def _add_bulk(self, events: builtins.list[AnyEvent]) -> builtins.list[AnyEvent]:
        try:
            with _transaction(self._write_sessions, f"storing {len(events)} events") as session:
                partitioned = self._partitions is not None and self._partitions.enabled
                return add_many_postgres(session, events, utcnow(), partitioned=partitioned)
        except psycopg.errors.CheckViolation:
            raise
        except psycopg.Error as exc:
            detail = (str(exc).splitlines() or [""])[0]
            raise StoreError(f"storing {len(events)} events failed: {type(exc).__name__}: {detail}") from exc

    def _ensure_partitions(self, events: Iterable[AnyEvent]) -> None:
        if self._partitions is not None:
            try:
                self._partitions.ensure(e.occurred_at for e in events)
            except SQLAlchemyError as exc:
                detail = (str(getattr(exc, "orig", exc)).splitlines() or [""])[0]
                raise StoreError(f"creating a day's partitions failed: {detail}") from exc

    def _add_orm(self, events: Iterable[AnyEvent]) -> builtins.list[AnyEvent]:
        unique: dict[str, AnyEvent] = {}
        for event in events:
            unique.setdefault(event.event_id, event)
        if not unique:
            return []
        stored_at = utcnow()
        rows = [_event_row(event, stored_at) for event in unique.values()]
        self._ensure_partitions(unique.values())
        partitioned = self._partitions is not None and self._partitions.enabled
        with _transaction(self._write_sessions, f"storing {len(rows)} events") as session:
            stmt = _insert_ignoring_duplicates(session, partitioned).returning(EventRow.event_id)
            new_ids = set(session.scalars(stmt, rows))
            new = [event for event in unique.values() if event.event_id in new_ids]
            fold_tracks(session, [e for e in new if isinstance(e, TrackStarted | TrackUpdated | TrackEnded)])
            fold_health(session, [e for e in new if isinstance(e, CameraHealth)])
            fold_features(session, new)
        return new

    def get(self, event_id: str) -> AnyEvent | None:
        """The event with ``event_id``, or None."""
        with _transaction(self._sessions, f"reading event {event_id}") as session:
            payload = session.scalar(select(EventRow.payload).where(EventRow.event_id == event_id))
        return None if payload is None else _decode(payload)

    def count(self) -> int:
        """Number of stored events."""
        with _transaction(self._sessions, "counting events") as session:
            return session.scalar(select(func.count()).select_from(EventRow)) or 0

    def count_by_type(self) -> dict[str, int]:
        """Stored events per ``type``."""
        with _transaction(self._sessions, "counting events by type") as session:
            result = session.execute(select(EventRow.type, func.count()).group_by(EventRow.type))
            return dict(result.all())

    def search(
        self,
        *,
        camera_id: str | None = None,
        type: str | None = None,
        track_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
        offset: int = 0,
        newest_first: bool = False,
    ) -> builtins.list[AnyEvent]:
        """Events matching every given filter, ordered by ``occurred_at`` (then id).

        Args:
            since: inclusive lower bound (aware).
            until: exclusive upper bound (aware).

        Raises:
            ValueError: naive ``since``/``until`` or an out-of-range page.
            StoreError: the query failed or a stored payload is no longer readable.
        """
        _check_page(limit, offset)
        _check_aware(since=since, until=until)
        conditions: builtins.list[ColumnElement[bool]] = []
        if camera_id is not None:
            conditions.append(EventRow.camera_id == camera_id)
        if type is not None:
            conditions.append(EventRow.type == type)
        if track_id is not None:
            conditions.append(EventRow.track_id == track_id)
        if since is not None:
            conditions.append(EventRow.occurred_at >= since)
        if until is not None:
            conditions.append(EventRow.occurred_at < until)
        order = (
            (EventRow.occurred_at.desc(), EventRow.event_id.desc())
            if newest_first
            else (EventRow.occurred_at, EventRow.event_id)
        )
        stmt = select(EventRow.payload).where(*conditions).order_by(*order).limit(limit).offset(offset)
        with _transaction(self._sessions, "searching events") as session:
            payloads = session.scalars(stmt).all()
        return [_decode(payload) for payload in payloads]


class TrackRepository:
    """The ``tracks`` table (written only by :meth:`EventRepository.add_many`)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def get(self, track_id: str) -> TrackRecord | None:
        """The track with ``track_id``, or None."""
        with _transaction(self._sessions, f"reading track {track_id}") as session:
            row = session.get(TrackRow, track_id)
            return None if row is None else _track_record(row)

    def end_orphans(self, camera_id: str, *, before: datetime) -> builtins.list[str]:
        """Mark ``camera_id``'s tracks still open and last seen before ``before`` as ended.

        For tracks whose worker died or lost the camera (scale-out): their ``track.ended`` will
        never come. The summary keeps what was folded so far. Returns the ended track ids.
        """
        _check_aware(before=before)
        with _transaction(self._sessions, f"ending orphaned tracks of camera {camera_id}") as session:
            rows = session.scalars(
                select(TrackRow)
                .where(TrackRow.camera_id == camera_id, TrackRow.ended.is_(False), TrackRow.last_seen < before)
                .with_for_update()
            ).all()
            for row in rows:
                row.ended = True
            return [row.track_id for row in rows]

    def counts_by_class(self, camera_id: str | None = None, *, since: datetime | None = None) -> dict[str, int]:
        """Tracks per class name, optionally for one camera and first seen at or after ``since``."""
        _check_aware(since=since)
        stmt = select(TrackRow.class_name, func.count()).group_by(TrackRow.class_name)
        if camera_id is not None:
            stmt = stmt.where(TrackRow.camera_id == camera_id)
        if since is not None:
            stmt = stmt.where(TrackRow.first_seen >= since)
        with _transaction(self._sessions, "counting tracks by class") as session:
            return dict(session.execute(stmt).all())

    def list(
        self,
        *,
        camera_id: str | None = None,
        class_name: str | None = None,
        ended: bool | None = None,
        since: datetime | None = None,
        limit: int = 100,
        offset: int = 0,
        newest_first: bool = False,
    ) -> builtins.list[TrackRecord]:
        """Tracks matching every given filter, ordered by ``first_seen`` (then id)."""
        _check_page(limit, offset)
        _check_aware(since=since)
        stmt = select(TrackRow)
        if camera_id is not None:
            stmt = stmt.where(TrackRow.camera_id == camera_id)
        if class_name is not None:
            stmt = stmt.where(TrackRow.class_name == class_name)
        if ended is not None:
            stmt = stmt.where(TrackRow.ended == ended)
        if since is not None:
            stmt = stmt.where(TrackRow.first_seen >= since)
        order = (
            (TrackRow.first_seen.desc(), TrackRow.track_id.desc())
            if newest_first
            else (TrackRow.first_seen, TrackRow.track_id)
        )
        with _transaction(self._sessions, "listing tracks") as session:
            rows = session.scalars(stmt.order_by(*order).limit(limit).offset(offset)).all()
            return [_track_record(row) for row in rows]


class HealthRepository:
    """The ``camera_health`` table: the newest snapshot per camera."""

    def __init__(self, sessions: sessionmaker[Session], write_sessions: sessionmaker[Session] | None = None) -> None:
        self._sessions = sessions
        self._write_sessions = write_sessions or sessions

    def upsert(self, snapshot: CameraHealth) -> None:
        """Record ``snapshot`` unless a newer one for its camera is already stored."""
        with _transaction(self._write_sessions, f"updating health of camera {snapshot.camera_id}") as session:
            fold_health(session, [snapshot])

    def get(self, camera_id: str) -> HealthRecord | None:
        """The latest snapshot of ``camera_id``, or None."""
        with _transaction(self._sessions, f"reading health of camera {camera_id}") as session:
            row = session.get(CameraHealthRow, camera_id)
            return None if row is None else _health_record(row)

    def list(self) -> builtins.list[HealthRecord]:
        """The latest snapshot of every camera, by camera id."""
        with _transaction(self._sessions, "listing camera health") as session:
            rows = session.scalars(select(CameraHealthRow).order_by(CameraHealthRow.camera_id)).all()
            return [_health_record(row) for row in rows]


# -- helpers ------------------------------------------------------------------------------


def _insert_ignoring_duplicates(session: Session, partitioned: bool = False) -> sqlite.Insert | postgresql.Insert:
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        return sqlite.insert(EventRow).on_conflict_do_nothing(index_elements=["event_id"])
    if dialect == "postgresql":
        # Partitioned: the key includes the partition key (an event's time is part of its identity).
        key = ["event_id", "occurred_at"] if partitioned else ["event_id"]
        return postgresql.insert(EventRow).on_conflict_do_nothing(index_elements=key)
    raise StoreError(f"unsupported database dialect {dialect!r}; expected sqlite or postgresql")


def _event_row(event: AnyEvent, stored_at: datetime) -> dict[str, Any]:
    return {
        "event_id": event.event_id,
        "type": event.type,
        "schema_version": event.schema_version,
        "camera_id": event.camera_id,
        "occurred_at": event.occurred_at,
        "track_id": event.track_id if isinstance(event, TrackEvent) else None,
        "payload": event.model_dump(mode="json"),
        "stored_at": stored_at,
    }


def _decode(payload: dict[str, Any]) -> AnyEvent:
    try:
        return event_from_dict(payload)
    except EventDecodeError as exc:
        raise StoreError(f"stored event {payload.get('event_id')!r} cannot be read by this version: {exc}") from exc


def _track_record(row: TrackRow) -> TrackRecord:
    return TrackRecord(
        track_id=row.track_id,
        camera_id=row.camera_id,
        class_name=row.class_name,
        first_seen=row.first_seen,
        last_seen=row.last_seen,
        n_observations=row.n_observations,
        best_confidence=row.best_confidence,
        snapshot=row.snapshot,
        ended=row.ended,
    )


def _health_record(row: CameraHealthRow) -> HealthRecord:
    return HealthRecord(
        camera_id=row.camera_id,
        updated_at=row.updated_at,
        event_id=row.event_id,
        frames_in=row.frames_in,
        frames_analysed=row.frames_analysed,
        frames_dropped=row.frames_dropped,
        reconnects=row.reconnects,
        analysed_fps=row.analysed_fps,
        last_error=row.last_error,
        state=row.state,
        cpu_share=row.cpu_share,
    )
