"""Camera health carries the share of the box's CPUs the camera used recently (``vigil status``).
Older snapshots have none.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("camera_health") as batch:
        batch.add_column(sa.Column("cpu_share", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("camera_health") as batch:
        batch.drop_column("cpu_share")
