"""Candidates and their decisions.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "candidates",
        sa.Column("candidate_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("camera_id", sa.String(128), nullable=False),
        sa.Column("list_entry_id", sa.String(128), nullable=False),
        sa.Column("track_id", sa.String(128), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=True),
        sa.Column("false_match_rate", sa.Float(), nullable=True),
        sa.Column("calibration_id", sa.String(64), nullable=True),
        sa.Column("probe_media", sa.String(512), nullable=True),
        sa.Column("reference_media", sa.String(512), nullable=True),
        sa.Column("observed", sa.String(64), nullable=True),
        sa.Column("flags", sa.JSON(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("candidate_id", name=op.f("pk_candidates")),
    )
    op.create_index("ix_candidates_status_occurred_at", "candidates", ["status", "occurred_at"])
    op.create_index("ix_candidates_list_entry_id_occurred_at", "candidates", ["list_entry_id", "occurred_at"])
    op.create_index("ix_candidates_camera_id_occurred_at", "candidates", ["camera_id", "occurred_at"])
    op.create_table(
        "candidate_decisions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("candidate_id", sa.String(64), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["candidate_id"],
            ["candidates.candidate_id"],
            name=op.f("fk_candidate_decisions_candidate_id_candidates"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_candidate_decisions")),
    )
    op.create_index("ix_candidate_decisions_candidate_id", "candidate_decisions", ["candidate_id"])


def downgrade() -> None:
    op.drop_index("ix_candidate_decisions_candidate_id", table_name="candidate_decisions")
    op.drop_table("candidate_decisions")
    op.drop_index("ix_candidates_camera_id_occurred_at", table_name="candidates")
    op.drop_index("ix_candidates_list_entry_id_occurred_at", table_name="candidates")
    op.drop_index("ix_candidates_status_occurred_at", table_name="candidates")
    op.drop_table("candidates")
