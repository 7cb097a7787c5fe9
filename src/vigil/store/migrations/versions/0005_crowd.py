"""Tables of the crowd feature (see vigil/store/crowd.py).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the crowd tables."""
    op.create_table(
        "crowd_counts",
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("zone_id", sa.String(64), nullable=False),
        sa.Column("camera_id", sa.String(128), nullable=False),
        sa.Column("at", _utc(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("detection_count", sa.Integer(), nullable=False),
        sa.Column("density_count", sa.Float(), nullable=True),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("density_per_m2", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("event_id", "zone_id", name=op.f("pk_crowd_counts")),
    )
    op.create_index("ix_crowd_counts_camera_id_at", "crowd_counts", ["camera_id", "at"])
    op.create_table(
        "crowd_line_counts",
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("line_id", sa.String(64), nullable=False),
        sa.Column("camera_id", sa.String(128), nullable=False),
        sa.Column("period_start", _utc(), nullable=False),
        sa.Column("period_end", _utc(), nullable=False),
        sa.Column("in_count", sa.Integer(), nullable=False),
        sa.Column("out_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("event_id", "line_id", name=op.f("pk_crowd_line_counts")),
    )
    op.create_index("ix_crowd_line_counts_camera_id_period_end", "crowd_line_counts", ["camera_id", "period_end"])
    op.create_table(
        "crowd_alerts",
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("camera_id", sa.String(128), nullable=False),
        sa.Column("at", _utc(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("subject_type", sa.String(8), nullable=False),
        sa.Column("subject_id", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("unit", sa.String(32), nullable=False),
        sa.Column("since", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_crowd_alerts")),
    )
    op.create_index("ix_crowd_alerts_camera_id_at", "crowd_alerts", ["camera_id", "at"])
    op.create_table(
        "crowd_heatmaps",
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("camera_id", sa.String(128), nullable=False),
        sa.Column("period_start", _utc(), nullable=False),
        sa.Column("period_end", _utc(), nullable=False),
        sa.Column("cols", sa.Integer(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("frames", sa.Integer(), nullable=False),
        sa.Column("frame_width", sa.Integer(), nullable=False),
        sa.Column("frame_height", sa.Integer(), nullable=False),
        sa.Column("cells", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_crowd_heatmaps")),
    )
    op.create_index("ix_crowd_heatmaps_camera_id_period_end", "crowd_heatmaps", ["camera_id", "period_end"])


def downgrade() -> None:
    """Drop the crowd tables."""
    op.drop_index("ix_crowd_heatmaps_camera_id_period_end", table_name="crowd_heatmaps")
    op.drop_table("crowd_heatmaps")
    op.drop_index("ix_crowd_alerts_camera_id_at", table_name="crowd_alerts")
    op.drop_table("crowd_alerts")
    op.drop_index("ix_crowd_line_counts_camera_id_period_end", table_name="crowd_line_counts")
    op.drop_table("crowd_line_counts")
    op.drop_index("ix_crowd_counts_camera_id_at", table_name="crowd_counts")
    op.drop_table("crowd_counts")
