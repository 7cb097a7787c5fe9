"""Clips kept around candidates and crowd alerts (``clip.recorded``): path, subject, span.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "clips",
        sa.Column("clip_id", sa.String(64), nullable=False),
        sa.Column("camera_id", sa.String(128), nullable=False),
        sa.Column("subject_type", sa.String(32), nullable=False),
        sa.Column("subject_id", sa.String(64), nullable=False),
        sa.Column("subject_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("track_id", sa.String(128), nullable=True),
        sa.Column("media", sa.String(512), nullable=False),
        sa.Column("media_kept", sa.String(512), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("frames", sa.Integer(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("clip_id", name=op.f("pk_clips")),
    )
    op.create_index("ix_clips_subject_id", "clips", ["subject_id"])
    op.create_index("ix_clips_media", "clips", ["media"])
    op.create_index("ix_clips_media_kept", "clips", ["media_kept"])
    op.create_index("ix_clips_camera_id_started_at", "clips", ["camera_id", "started_at"])


def downgrade() -> None:
    op.drop_table("clips")
