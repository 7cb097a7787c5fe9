"""Initial schema: events, tracks, camera_health.

Revision ID: 0001
Revises:
Create Date: 2026-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("schema_version", sa.Integer(), nullable=False),
        sa.Column("camera_id", sa.String(128), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("track_id", sa.String(128), nullable=True),
        sa.Column("payload", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_events")),
    )
    op.create_index("ix_events_camera_id_occurred_at", "events", ["camera_id", "occurred_at"])
    op.create_index("ix_events_type_occurred_at", "events", ["type", "occurred_at"])
    op.create_index("ix_events_track_id", "events", ["track_id"])

    op.create_table(
        "tracks",
        sa.Column("track_id", sa.String(128), nullable=False),
        sa.Column("camera_id", sa.String(128), nullable=False),
        sa.Column("class_name", sa.String(64), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("n_observations", sa.Integer(), nullable=False),
        sa.Column("best_confidence", sa.Float(), nullable=False),
        sa.Column("snapshot", sa.String(512), nullable=True),
        sa.Column("ended", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("track_id", name=op.f("pk_tracks")),
    )
    op.create_index("ix_tracks_camera_id_first_seen", "tracks", ["camera_id", "first_seen"])
    op.create_index("ix_tracks_class_name", "tracks", ["class_name"])

    op.create_table(
        "camera_health",
        sa.Column("camera_id", sa.String(128), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("frames_in", sa.Integer(), nullable=False),
        sa.Column("frames_analysed", sa.Integer(), nullable=False),
        sa.Column("frames_dropped", sa.Integer(), nullable=False),
        sa.Column("reconnects", sa.Integer(), nullable=False),
        sa.Column("analysed_fps", sa.Float(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("state", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("camera_id", name=op.f("pk_camera_health")),
    )


def downgrade() -> None:
    op.drop_table("camera_health")
    op.drop_index("ix_tracks_class_name", table_name="tracks")
    op.drop_index("ix_tracks_camera_id_first_seen", table_name="tracks")
    op.drop_table("tracks")
    op.drop_index("ix_events_track_id", table_name="events")
    op.drop_index("ix_events_type_occurred_at", table_name="events")
    op.drop_index("ix_events_camera_id_occurred_at", table_name="events")
    op.drop_table("events")
