"""Transactions and argument checks shared by every repository."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from vigil.core.errors import StoreError

MAX_PAGE = 10_000
"""Largest ``limit`` a query accepts; page with ``offset`` beyond it."""


@contextmanager
def _transaction(sessions: sessionmaker[Session], what: str) -> Iterator[Session]:
    """One session, one transaction; commit on success, roll back and convert on error."""
    try:
        with sessions.begin() as session:
            yield session
    except SQLAlchemyError as exc:
        # The driver's message is useful but multi-line; keep the first line.
        orig = getattr(exc, "orig", None)
        detail = (str(orig if orig is not None else exc).splitlines() or [""])[0]
        raise StoreError(f"{what} failed: {type(exc).__name__}: {detail}") from exc


def _check_page(limit: int, offset: int) -> None:
    if not 1 <= limit <= MAX_PAGE:
        raise ValueError(f"limit must be in 1..{MAX_PAGE}, got {limit}")
    if offset < 0:
        raise ValueError(f"offset must be >= 0, got {offset}")


def _check_aware(**times: datetime | None) -> None:
    for name, value in times.items():
        if value is not None and value.tzinfo is None:
            raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")
