"""Matching a read against hotlist plates: exact, or fuzzy only when configured.

A fuzzy match is within ``max_distance`` edits where swapping confusable characters (O/0,
B/8, S/5 …) counts half an edit; it is always marked fuzzy so a reviewer knows the read
differs from the listed plate.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from vigil.core.accountability import Authorisation, parse_expiry
from vigil.core.errors import InputError, PolicyError
from vigil.plates.text import parse_plate, plate_distance


@dataclass(frozen=True, slots=True)
class HotlistPlate:
    """What matching needs of an active hotlist entry."""

    entry_id: str
    plate: str


@dataclass(frozen=True, slots=True)
class HotlistHit:
    entry_id: str
    plate: str
    distance: float
    fuzzy: bool


def match_plate(
    read: str, entries: Iterable[HotlistPlate], *, fuzzy: bool = False, max_distance: float = 1.0
) -> list[HotlistHit]:
    """Entries ``read`` matches, exact ones first, then by distance."""
    hits: list[HotlistHit] = []
    for e in entries:
        # O and 0 are one glyph on US plates, whose reads are written with 0 (formats.us_zero).
        if e.plate == read or e.plate.replace("O", "0") == read.replace("O", "0"):
            hits.append(HotlistHit(e.entry_id, e.plate, 0.0, False))
        elif fuzzy and abs(len(e.plate) - len(read)) <= max_distance:
            d = plate_distance(read, e.plate)
            if d <= max_distance:
                hits.append(HotlistHit(e.entry_id, e.plate, d, True))
    hits.sort(key=lambda h: (h.distance, h.entry_id))
    return hits


@dataclass(frozen=True, slots=True)
class HotlistRow:
    """One valid row of a hotlist CSV."""

    row: int
    plate: str
    legal_basis: str
    authorised_by: str
    expires_at: datetime
    note: str | None


HOTLIST_COLUMNS = ("plate", "legal_basis", "authorised_by", "expires_at")
"""Required CSV header columns (``note`` is optional); the enterer is the person importing."""


def parse_hotlist_csv(
    path: Path, entered_by: str, now: datetime, max_days: float
) -> tuple[list[HotlistRow], list[tuple[int, str]]]:
    """Read a hotlist CSV: its valid rows and, for each bad row, its number and why.

    Raises:
        InputError: the file is unreadable, empty, or its header lacks a required column.
    """
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"hotlist {path}: cannot read it: {exc}") from exc
    if not rows:
        raise InputError(f"hotlist {path} is empty; expected a header {','.join(HOTLIST_COLUMNS)}[,note]")
    header = [h.strip().lower() for h in rows[0]]
    missing = [c for c in HOTLIST_COLUMNS if c not in header]
    if missing:
        raise InputError(
            f"hotlist {path}: header lacks {', '.join(missing)}; expected {','.join(HOTLIST_COLUMNS)}[,note], "
            f"got {','.join(header)}"
        )
    col = {name: header.index(name) for name in header}
    good: list[HotlistRow] = []
    bad: list[tuple[int, str]] = []
    for number, fields in enumerate(rows[1:], start=2):
        if not any(f.strip() for f in fields):
            continue
        if len(fields) != len(header):
            bad.append((number, f"{len(fields)} columns, expected {len(header)}"))
            continue
        try:
            plate = parse_plate(fields[col["plate"]])
            expires = parse_expiry(fields[col["expires_at"]])
            auth = Authorisation(
                legal_basis=fields[col["legal_basis"]].strip(),
                authorised_by=fields[col["authorised_by"]].strip(),
                entered_by=entered_by,
                expires_at=expires,
            )
            auth.check(now, max_days)
        except (InputError, PolicyError) as exc:
            bad.append((number, str(exc)))
            continue
        note = fields[col["note"]].strip() or None if "note" in col else None
        good.append(HotlistRow(number, plate, auth.legal_basis, auth.authorised_by, expires, note))
    return good, bad
