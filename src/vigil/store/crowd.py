"""Tables, folding and repository of the crowd feature.

Tables defined here derive from :class:`vigil.store.tables.Base`; ``store/schema.py`` imports
this module so Alembic and the schema test see them. Their migration is
``migrations/versions/*_crowd.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session, sessionmaker


def fold_crowd(session: Session, events: Sequence[Any]) -> None:
    """Fold newly stored crowd events into this feature's tables (same transaction)."""


class CrowdRepository:
    """Queries and commands of the crowd feature."""

    def __init__(self, sessions: sessionmaker[Session], write_sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._write_sessions = write_sessions
