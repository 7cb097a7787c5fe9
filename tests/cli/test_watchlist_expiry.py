"""One expiry rule at every door: a date means the end of that day (UTC); a date-time needs a zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from vigil.core.accountability import parse_expiry
from vigil.core.errors import InputError


def test_a_date_expires_at_the_end_of_that_day_utc() -> None:
    assert parse_expiry("2027-01-31") == datetime(2027, 1, 31, 23, 59, 59, tzinfo=UTC)
    assert parse_expiry(" 2027-01-31 ") == datetime(2027, 1, 31, 23, 59, 59, tzinfo=UTC)


def test_a_date_time_keeps_its_zone() -> None:
    plus_two = timezone(timedelta(hours=2))
    assert parse_expiry("2027-01-31T10:00+02:00") == datetime(2027, 1, 31, 10, 0, tzinfo=plus_two)
    assert parse_expiry("2027-01-31T10:00Z") == datetime(2027, 1, 31, 10, 0, tzinfo=UTC)


def test_a_date_time_without_a_zone_is_refused_not_guessed() -> None:
    with pytest.raises(InputError, match="has no time zone"):
        parse_expiry("2027-01-31T10:00", "--expires")


def test_anything_else_is_one_clear_error() -> None:
    with pytest.raises(InputError, match="not a date"):
        parse_expiry("next tuesday")
