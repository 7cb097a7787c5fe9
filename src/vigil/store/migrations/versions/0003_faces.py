"""Tables of the faces feature: watchlist subjects, reference images, calibrations.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the faces tables."""
    op.create_table(
        "face_subjects",
        sa.Column("subject_id", sa.String(128), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("legal_basis", sa.Text(), nullable=False),
        sa.Column("authorised_by", sa.String(128), nullable=False),
        sa.Column("enrolled_by", sa.String(128), nullable=False),
        sa.Column("enrolled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("subject_id", name=op.f("pk_face_subjects")),
    )
    op.create_index("ix_face_subjects_expires_at", "face_subjects", ["expires_at"])
    op.create_table(
        "face_references",
        sa.Column("reference_id", sa.String(64), nullable=False),
        sa.Column("subject_id", sa.String(128), nullable=False),
        sa.Column("media_path", sa.String(512), nullable=False),
        sa.Column("provenance", sa.Text(), nullable=False),
        sa.Column("source_name", sa.String(512), nullable=False),
        sa.Column("embedder", sa.String(64), nullable=False),
        sa.Column("embedding", sa.LargeBinary(), nullable=False),
        sa.Column("face_px", sa.Float(), nullable=False),
        sa.Column("detector_score", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["subject_id"],
            ["face_subjects.subject_id"],
            name=op.f("fk_face_references_subject_id_face_subjects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("reference_id", name=op.f("pk_face_references")),
    )
    op.create_index("ix_face_references_subject_id", "face_references", ["subject_id"])
    op.create_table(
        "face_calibrations",
        sa.Column("calibration_id", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("dataset", sa.Text(), nullable=False),
        sa.Column("embedder", sa.String(64), nullable=False),
        sa.Column("n_images", sa.Integer(), nullable=False),
        sa.Column("n_no_face", sa.Integer(), nullable=False),
        sa.Column("n_genuine", sa.Integer(), nullable=False),
        sa.Column("n_impostor", sa.Integer(), nullable=False),
        sa.Column("eer", sa.Float(), nullable=False),
        sa.Column("target_fmr", sa.Float(), nullable=False),
        sa.Column("measured_fmr", sa.Float(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("tar", sa.Float(), nullable=False),
        sa.Column("set_by", sa.String(128), nullable=False),
        sa.Column("supervisor", sa.String(128), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("calibration_id", name=op.f("pk_face_calibrations")),
    )


def downgrade() -> None:
    """Drop the faces tables."""
    op.drop_table("face_calibrations")
    op.drop_index("ix_face_references_subject_id", table_name="face_references")
    op.drop_table("face_references")
    op.drop_index("ix_face_subjects_expires_at", table_name="face_subjects")
    op.drop_table("face_subjects")
