"""SQLite's own integrity check, run by ``vigil status`` and before a run writes anything.

A page damaged in the middle of the file (a bad sector, a copy taken mid-write, a full disk
during a checkpoint) goes unnoticed until a query happens to read it, and a writer that keeps
going spreads the damage. ``PRAGMA quick_check`` reads every page and checks each b-tree
(without cross-checking indexes against tables, which ``integrity_check`` adds at several
times the cost), so it finds such a page at about the cost of reading the file once.
PostgreSQL checksums and repairs its own pages; there the check does not apply.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from vigil.core.errors import StoreError

MAX_PROBLEMS = 20
"""How many problems the check lists before it stops (the first one names the damage)."""


@dataclass(frozen=True, slots=True)
class IntegrityReport:
    """What SQLite's quick check said about one database file."""

    path: Path
    problems: tuple[str, ...]
    elapsed_s: float

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        """One line: ``store <path>: quick check ok (0.02 s)`` or what is corrupt and what to do."""
        if self.ok:
            return f"store {self.path}: SQLite quick check ok ({self.elapsed_s:.2f} s)"
        more = f"{len(self.problems)}{'+' if len(self.problems) >= MAX_PROBLEMS else ''}"
        first = " ".join(self.problems[0].split())[:200]
        return (
            f"store {self.path} is corrupt: SQLite quick check found {more} problem(s), first: {first!r}; "
            f"stop Vigil, keep a copy of the file and recover it with `sqlite3 {self.path} .recover`"
        )


def quick_check(url: str) -> IntegrityReport | None:
    """Run ``PRAGMA quick_check`` on the SQLite file of ``url``, read-only.

    Returns:
        None for PostgreSQL and in-memory SQLite (nothing to check); a report otherwise. A
        file that does not exist yet is sound (it will be created empty).
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    path = Path(parsed.database or "").expanduser().resolve()
    started = time.perf_counter()
    if not path.exists():
        return IntegrityReport(path, (), 0.0)
    try:
        # Read-only through a URI, so a check never creates, migrates or repairs anything.
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=10)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open {path} to check it: {exc}") from exc
    try:
        rows = conn.execute(f"PRAGMA quick_check({MAX_PROBLEMS})").fetchall()
        problems = tuple(str(r[0]) for r in rows if r and r[0] != "ok")
    except sqlite3.DatabaseError as exc:
        # "database disk image is malformed" / "file is not a database": the check itself
        # could not get through the damage.
        problems = (str(exc),)
    finally:
        conn.close()
    return IntegrityReport(path, problems, time.perf_counter() - started)


def require_sound(url: str) -> IntegrityReport | None:
    """:func:`quick_check`, raising when the file is corrupt (before a run writes to it).

    Raises:
        StoreError: the quick check found damage; the message is the report's one line.
    """
    report = quick_check(url)
    if report is not None and not report.ok:
        raise StoreError(report.summary())
    return report
