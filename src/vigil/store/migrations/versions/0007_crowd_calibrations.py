"""Per-camera crowd count calibrations (see vigil/store/crowd.py, vigil/crowd/calibration.py).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    """Create the crowd_calibrations table."""
    op.create_table(
        "crowd_calibrations",
        sa.Column("calibration_id", sa.String(64), nullable=False),
        sa.Column("camera_id", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("frames", sa.Integer(), nullable=False),
        sa.Column("people", sa.Integer(), nullable=False),
        sa.Column("frame_width", sa.Integer(), nullable=False),
        sa.Column("frame_height", sa.Integer(), nullable=False),
        sa.Column("correction", _JSON, nullable=False),
        sa.Column("fit", _JSON, nullable=False),
        sa.PrimaryKeyConstraint("calibration_id", name=op.f("pk_crowd_calibrations")),
    )
    op.create_index("ix_crowd_calibrations_camera_id_created_at", "crowd_calibrations", ["camera_id", "created_at"])


def downgrade() -> None:
    """Drop the crowd_calibrations table."""
    op.drop_index("ix_crowd_calibrations_camera_id_created_at", table_name="crowd_calibrations")
    op.drop_table("crowd_calibrations")
