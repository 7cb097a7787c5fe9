"""Matching a read against hotlist plates: exact, or fuzzy only when configured.

A fuzzy match is within ``max_distance`` edits where swapping confusable characters (O/0,
B/8, S/5 …) counts half an edit; it is always marked fuzzy so a reviewer knows the read
differs from the listed plate.

An entry may name the plate region it is listed for (``us``, ``uk``, ``eu`` …: the grammar
regions of :mod:`vigil.plates.formats`, or a deployment's own). A read still matches an entry of
another region (the same characters on a foreign plate may be the car looked for, on other
plates), but :func:`other_region` says why it looks foreign, so the candidate is flagged for the
reviewer.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from vigil.core.accountability import Authorisation, parse_expiry
from vigil.core.errors import InputError, PolicyError
from vigil.plates.countries import COUNTRY_TRUST, UNKNOWN_COUNTRY, grammar_for
from vigil.plates.formats import REGION_FORMATS
from vigil.plates.text import parse_plate, plate_distance


@dataclass(frozen=True, slots=True)
class HotlistPlate:
    """What matching needs of an active hotlist entry."""

    entry_id: str
    plate: str
    region: str | None = None
    """The plate region the entry is listed for, or None (any)."""


@dataclass(frozen=True, slots=True)
class HotlistHit:
    entry_id: str
    plate: str
    distance: float
    fuzzy: bool
    region: str | None = None
    """The entry's region (see :func:`other_region`)."""


@dataclass(frozen=True, slots=True)
class ReadOrigin:
    """What a voted read says about where its plate is from.

    Attributes:
        country: the country the recogniser's region head voted for, or None (no head).
        country_confidence: its mean probability over the reads that named one.
        region: the grammar region the read's text was fitted to, or None.
        strict: the text fits a listed layout of ``region`` (not only the loose US rule).
        regions: the regions the deployment fits reads to when the country is unsure.
    """

    country: str | None
    country_confidence: float
    region: str | None
    strict: bool
    regions: tuple[str, ...]


def other_region(listed: str, origin: ReadOrigin) -> str | None:
    """Why a read looks to be from another region than the ``listed`` one, in words; None when
    it does not, or when nothing in the read says where it is from.

    The region head's country decides where it is sure (``COUNTRY_TRUST``, the bar at which it
    picks the grammar) and the kept read was fitted to that country's grammar: where PP-OCR's
    second opinion was kept, the head had looked at a plate the recogniser was unsure of (a US
    plate read as Brazil at 0.7 in a vehicle's search region), and the read was fitted to the
    deployment's regions instead. A deployment's own regions are not among the head's
    countries, so for those, and where the head is unsure or absent, only a strict layout fit
    counts, and only if the listed region was one the read could have fitted (the deployment's
    ``regions``). A loose fit (any 2–8 characters on a US plate) says nothing.
    """
    country = origin.country
    sure = country is not None and country != UNKNOWN_COUNTRY and origin.country_confidence >= COUNTRY_TRUST
    grammar = grammar_for(country)
    if listed in REGION_FORMATS and sure and origin.region == grammar:
        if grammar == listed:
            return None
        region = f"region {grammar}" if grammar else "no built-in region"
        return f"read as a plate of {country} ({region}; country {origin.country_confidence:.2f}), listed for {listed}"
    if origin.strict and origin.region is not None and origin.region != listed and listed in origin.regions:
        return f"read fits a {origin.region} layout, not {listed}, the region it is listed for"
    return None


def match_plate(
    read: str, entries: Iterable[HotlistPlate], *, fuzzy: bool = False, max_distance: float = 1.0
) -> list[HotlistHit]:
    """Entries ``read`` matches, exact ones first, then by distance."""
    hits: list[HotlistHit] = []
    for e in entries:
        # O and 0 are one glyph on US plates, whose reads are written with 0 (formats.us_zero).
        if e.plate == read or e.plate.replace("O", "0") == read.replace("O", "0"):
            hits.append(HotlistHit(e.entry_id, e.plate, 0.0, False, e.region))
        elif fuzzy and abs(len(e.plate) - len(read)) <= max_distance:
            d = plate_distance(read, e.plate)
            if d <= max_distance:
                hits.append(HotlistHit(e.entry_id, e.plate, d, True, e.region))
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
    region: str | None = None
    """As typed (the ``region`` column; checked by the hotlist service), or None."""


HOTLIST_COLUMNS = ("plate", "legal_basis", "authorised_by", "expires_at")
"""Required CSV header columns (``note`` and ``region`` are optional); the enterer is the person importing."""


@dataclass(frozen=True, slots=True)
class BadRow:
    """A row of a hotlist CSV that cannot be imported: its line number and why."""

    line: int
    problem: str


@dataclass(frozen=True, slots=True)
class HotlistCsv:
    """A parsed hotlist CSV: the rows that can be imported and the bad ones, by line."""

    good: list[HotlistRow]
    bad: list[BadRow]


def parse_hotlist_text(text: str, source: str, entered_by: str, now: datetime, max_days: float) -> HotlistCsv:
    """Read a hotlist CSV's text: its valid rows and, for each bad row, its line and why.

    A row whose plate an earlier valid row lists already is bad too ("duplicates line N"): two
    entries for one plate would be refused as a batch, so naming it here lets ``--partial``
    import the first and skip the copy.

    Raises:
        InputError: the text is not CSV, is empty, or its header lacks a required column
            (one line naming ``source``).
    """
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header_row = next(reader, None)
        if header_row is None:
            raise InputError(
                f"hotlist {source} is empty; expected a header {','.join(HOTLIST_COLUMNS)}[,note][,region]"
            )
        header = [h.strip().lower() for h in header_row]
        missing = [c for c in HOTLIST_COLUMNS if c not in header]
        if missing:
            raise InputError(
                f"hotlist {source}: header lacks {', '.join(missing)}; expected "
                f"{','.join(HOTLIST_COLUMNS)}[,note][,region], got {','.join(header)[:200]}"
            )
        col = {name: header.index(name) for name in header}
        good: list[HotlistRow] = []
        bad: list[BadRow] = []
        first_line: dict[str, int] = {}
        line = reader.line_num
        for fields in reader:
            number, line = line + 1, reader.line_num  # a quoted field may span lines: its first
            if not any(f.strip() for f in fields):
                continue
            if len(fields) != len(header):
                bad.append(BadRow(number, f"{len(fields)} columns, expected {len(header)}"))
                continue
            try:
                plate = parse_plate(fields[col["plate"]])
                expires = parse_expiry(fields[col["expires_at"]], "expires_at")
                auth = Authorisation(
                    legal_basis=fields[col["legal_basis"]].strip(),
                    authorised_by=fields[col["authorised_by"]].strip(),
                    entered_by=entered_by,
                    expires_at=expires,
                )
                auth.check(now, max_days)
            except (InputError, PolicyError) as exc:
                bad.append(BadRow(number, str(exc).splitlines()[0]))
                continue
            if plate in first_line:
                bad.append(BadRow(number, f"plate {plate} duplicates line {first_line[plate]}"))
                continue
            first_line[plate] = number
            note = fields[col["note"]].strip() or None if "note" in col else None
            region = fields[col["region"]].strip() or None if "region" in col else None
            good.append(HotlistRow(number, plate, auth.legal_basis, auth.authorised_by, expires, note, region))
    except csv.Error as exc:
        raise InputError(f"hotlist {source}: not a CSV file near line {reader.line_num}: {exc}") from exc
    return HotlistCsv(good, bad)


def decode_hotlist(data: bytes, source: str) -> str:
    """The text of an uploaded or read hotlist file (UTF-8, with or without a byte-order mark).

    Raises:
        InputError: not UTF-8 text.
    """
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"hotlist {source} is not UTF-8 text (byte {exc.start}); save it as UTF-8 CSV") from exc


def parse_hotlist_csv(path: Path, entered_by: str, now: datetime, max_days: float) -> HotlistCsv:
    """Read a hotlist CSV file (see :func:`parse_hotlist_text`).

    Raises:
        InputError: the file is unreadable, not UTF-8, empty, or its header lacks a required column.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"hotlist {path}: cannot read it: {exc.strerror or exc}") from exc
    return parse_hotlist_text(decode_hotlist(data, str(path)), str(path), entered_by, now, max_days)
