"""``vigil watchlist add --expires``: a date means the end of that day, as its help says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from vigil.cli.faces_cmd import _parse_expiry
from vigil.core.errors import InputError


def test_a_date_expires_at_the_end_of_that_day_utc() -> None:
    assert _parse_expiry("2027-01-31") == datetime(2027, 1, 31, 23, 59, 59, tzinfo=UTC)
    assert _parse_expiry(" 2027-01-31 ") == datetime(2027, 1, 31, 23, 59, 59, tzinfo=UTC)


def test_a_date_time_keeps_its_zone_or_is_utc() -> None:
    assert _parse_expiry("2027-01-31T10:00") == datetime(2027, 1, 31, 10, 0, tzinfo=UTC)
    plus_two = timezone(timedelta(hours=2))
    assert _parse_expiry("2027-01-31T10:00+02:00") == datetime(2027, 1, 31, 10, 0, tzinfo=plus_two)


def test_anything_else_is_one_clear_error() -> None:
    with pytest.raises(InputError, match="not a date"):
        _parse_expiry("next tuesday")
