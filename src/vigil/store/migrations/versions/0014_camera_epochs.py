"""The newest lease epoch stored per camera, so the indexer's fence outlives a restart
(``store/epochs.py`` says why).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "camera_epochs",
        sa.Column("camera_id", sa.String(128), nullable=False),
        sa.Column("epoch", sa.BigInteger(), nullable=False),
        sa.Column("since", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("camera_id", name="pk_camera_epochs"),
    )


def downgrade() -> None:
    op.drop_table("camera_epochs")
