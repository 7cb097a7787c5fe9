"""The range of date-times Vigil handles, and the one check every door applies to them.

A date-time someone types (a query filter, an expiry) can be valid ISO 8601 and still break
arithmetic or the database: ``0001-01-01T00:00:00+14:00`` is a moment before year 1 in UTC.
Such values are bad input, answered with a 4xx naming the value, never an outage.
"""

from __future__ import annotations

from datetime import UTC, datetime

from vigil.core.errors import InputError

EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
"""The earliest instant accepted anywhere (leaves room for date arithmetic at the edges)."""

LATEST = datetime(9999, 1, 1, tzinfo=UTC)
"""The latest instant accepted anywhere (a year short of ``datetime.max``, for the same reason)."""

RANGE_TEXT = f"{EARLIEST:%Y-%m-%d} to {LATEST:%Y-%m-%d} UTC"


def check_instant(value: datetime, name: str = "") -> datetime:
    """``value`` unchanged if it lies within :data:`EARLIEST`..:data:`LATEST` (a naive value is
    read as UTC for this check only; whether naive values are allowed is the caller's rule).

    Raises:
        ValueError: the instant is outside the range (one line naming ``name`` and the range).
    """
    try:
        utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:
        utc = None
    if utc is None or not EARLIEST <= utc <= LATEST:
        where = f"{name}: " if name else ""
        raise ValueError(f"{where}{value.isoformat()} is out of range (date-times run from {RANGE_TEXT})")
    return value


def parse_typed_instant(text: str, what: str) -> datetime:
    """A date-time a person typed (a CLI option, a web form's ``datetime-local`` field): ISO 8601;
    one without a time zone is UTC. The API, a machine door, takes only values with a zone.

    Raises:
        InputError: not a date-time, or out of range (one line naming ``what``).
    """
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise InputError(f"{what}: {text!r} is not a date and time (e.g. 2026-11-01T12:00, UTC)") from exc
    try:
        return check_instant(value if value.tzinfo is not None else value.replace(tzinfo=UTC), what)
    except ValueError as exc:
        raise InputError(str(exc)) from exc
