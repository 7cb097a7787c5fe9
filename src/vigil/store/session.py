"""Transactions and argument checks shared by every repository."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy.exc import DataError, SQLAlchemyError, StatementError
from sqlalchemy.orm import Session, sessionmaker

from vigil.core.errors import InputError, StoreError
from vigil.core.instants import check_instant

MAX_PAGE = 10_000
"""Largest ``limit`` a query accepts; page with ``offset`` beyond it."""

MAX_OFFSET = 1_000_000
"""Largest ``offset`` a query accepts (past it, narrow the filter instead); keeps the value far
inside the 64-bit integers both engines take, so a huge offset is a clear error, not a crash."""


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
        if _bad_value(exc):
            raise InputError(f"{what}: a value cannot be stored or compared: {detail}") from exc
        raise StoreError(f"{what} failed: {type(exc).__name__}: {detail}") from exc


def _bad_value(exc: SQLAlchemyError) -> bool:
    """A value the caller gave is unusable (out of range, wrong type): bad input, not an outage.

    ``DataError`` is the database refusing a value (PostgreSQL: "integer out of range"); a
    ``StatementError`` around a ``ValueError``/``OverflowError`` is a value refused while binding
    parameters, before the database saw it (SQLite: integers past 64 bits, dates past year 9999).
    """
    if isinstance(exc, DataError):
        return True
    return type(exc) is StatementError and isinstance(exc.orig, ValueError | OverflowError)


def _check_page(limit: int, offset: int) -> None:
    if not 1 <= limit <= MAX_PAGE:
        raise ValueError(f"limit must be in 1..{MAX_PAGE}, got {limit}")
    if not 0 <= offset <= MAX_OFFSET:
        raise ValueError(f"offset must be in 0..{MAX_OFFSET}, got {offset}")


def _check_aware(**times: datetime | None) -> None:
    """Time filters are aware and within the range Vigil handles (else ``ValueError``, a 400)."""
    for name, value in times.items():
        if value is None:
            continue
        if value.tzinfo is None:
            raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")
        check_instant(value, name)
