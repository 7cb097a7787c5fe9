"""Tables of the plates feature (see vigil/store/plates.py).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``plate_reads`` and ``hotlist_entries``."""
    op.create_table(
        "plate_reads",
        sa.Column("read_id", sa.String(64), nullable=False),
        sa.Column("camera_id", sa.String(128), nullable=False),
        sa.Column("track_id", sa.String(128), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("plate", sa.String(16), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("region", sa.String(8), nullable=True),
        sa.Column("crop", sa.String(512), nullable=True),
        sa.Column("hit", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("read_id", name=op.f("pk_plate_reads")),
    )
    op.create_index("ix_plate_reads_plate_occurred_at", "plate_reads", ["plate", "occurred_at"])
    op.create_index("ix_plate_reads_hit_occurred_at", "plate_reads", ["hit", "occurred_at"])
    op.create_table(
        "hotlist_entries",
        sa.Column("entry_id", sa.String(64), nullable=False),
        sa.Column("plate", sa.String(16), nullable=False),
        sa.Column("legal_basis", sa.Text(), nullable=False),
        sa.Column("authorised_by", sa.String(128), nullable=False),
        sa.Column("entered_by", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("entry_id", name=op.f("pk_hotlist_entries")),
    )
    op.create_index("ix_hotlist_entries_plate", "hotlist_entries", ["plate"])


def downgrade() -> None:
    """Drop the plates tables."""
    op.drop_index("ix_hotlist_entries_plate", table_name="hotlist_entries")
    op.drop_table("hotlist_entries")
    op.drop_index("ix_plate_reads_hit_occurred_at", table_name="plate_reads")
    op.drop_index("ix_plate_reads_plate_occurred_at", table_name="plate_reads")
    op.drop_table("plate_reads")
