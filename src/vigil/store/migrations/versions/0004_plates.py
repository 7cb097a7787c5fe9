"""Tables of the plates feature (see vigil/store/plates.py).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the plates tables (none yet)."""


def downgrade() -> None:
    """Drop the plates tables (none yet)."""
