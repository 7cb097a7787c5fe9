"""Sign-in throttling per (user name, address), shared by every API replica
(see vigil/store/logins.py).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "login_throttle",
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("remote", sa.String(64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("username", "remote", name=op.f("pk_login_throttle")),
    )
    op.create_index("ix_login_throttle_remote_last_failure_at", "login_throttle", ["remote", "last_failure_at"])
    op.create_index("ix_login_throttle_username_last_failure_at", "login_throttle", ["username", "last_failure_at"])


def downgrade() -> None:
    op.drop_index("ix_login_throttle_username_last_failure_at", table_name="login_throttle")
    op.drop_index("ix_login_throttle_remote_last_failure_at", table_name="login_throttle")
    op.drop_table("login_throttle")
