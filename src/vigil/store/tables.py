"""SQLAlchemy table models: one schema for SQLite (embedded) and PostgreSQL (scale-out).

Changing anything here needs an Alembic revision in ``migrations/versions``; a test compares
the migrated schema with these models and fails on any difference.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Dialect, Float, Index, Integer, MetaData, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from vigil.core.instants import check_instant

# Stable constraint names, so later migrations (and SQLite batch mode) can refer to them.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out, on both engines.

    PostgreSQL stores ``timestamptz``; SQLite has no time zones, so values are stored as naive
    UTC text (which sorts correctly) and get their ``UTC`` back when read.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()} given to the store; use aware UTC")
        value = check_instant(value, "date-time").astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# JSONB on PostgreSQL so later issues can index and query payload fields.
PayloadJSON = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    """Declarative base with Vigil's naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class EventRow(Base):
    """Every event ever stored, verbatim (``payload``), keyed by its own id for idempotency."""

    __tablename__ = "events"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    type: Mapped[str] = mapped_column(String(64))
    schema_version: Mapped[int] = mapped_column(Integer)
    camera_id: Mapped[str] = mapped_column(String(128))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    track_id: Mapped[str | None] = mapped_column(String(128))
    payload: Mapped[dict[str, Any]] = mapped_column(PayloadJSON)
    stored_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index("ix_events_camera_id_occurred_at", "camera_id", "occurred_at"),
        Index("ix_events_type_occurred_at", "type", "occurred_at"),
        Index("ix_events_track_id", "track_id"),
    )


class TrackRow(Base):
    """One row per track, folded from its ``track.*`` events."""

    __tablename__ = "tracks"

    track_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    camera_id: Mapped[str] = mapped_column(String(128))
    class_name: Mapped[str] = mapped_column(String(64))
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    n_observations: Mapped[int] = mapped_column(Integer)
    best_confidence: Mapped[float] = mapped_column(Float)
    snapshot: Mapped[str | None] = mapped_column(String(512))
    ended: Mapped[bool]

    __table_args__ = (
        Index("ix_tracks_camera_id_first_seen", "camera_id", "first_seen"),
        Index("ix_tracks_class_name", "class_name"),
    )


class CameraHealthRow(Base):
    """Latest ``camera.health`` snapshot per camera."""

    __tablename__ = "camera_health"

    camera_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    event_id: Mapped[str] = mapped_column(String(64))
    frames_in: Mapped[int] = mapped_column(Integer)
    frames_analysed: Mapped[int] = mapped_column(Integer)
    frames_dropped: Mapped[int] = mapped_column(Integer)
    reconnects: Mapped[int] = mapped_column(Integer)
    analysed_fps: Mapped[float] = mapped_column(Float)
    cpu_share: Mapped[float | None] = mapped_column(Float, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(32))
