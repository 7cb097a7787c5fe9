"""Hotlist entries may name the plate region they are listed for (``us``, ``uk``, ``eu`` …);
a hit on a read from another region is flagged on its candidate. Older entries name none.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("hotlist_entries") as batch:
        batch.add_column(sa.Column("region", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("hotlist_entries") as batch:
        batch.drop_column("region")
