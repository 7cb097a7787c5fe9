"""What every watchlist and hotlist entry must carry, and the checks on it.

See docs/ACCOUNTABILITY.md: an entry records why it exists (legal basis or authorisation
reference), who authorised it, who entered it, and when it expires. Entries without these
are refused with one clear line.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from vigil.core.errors import InputError, PolicyError

_MIN_TEXT = 3


@dataclass(frozen=True, slots=True)
class Authorisation:
    """The accountability fields of a list entry.

    Attributes:
        legal_basis: the legal basis or authorisation reference (e.g. a warrant number).
        authorised_by: the person who authorised the entry.
        entered_by: the person who enrolled or entered it.
        expires_at: aware datetime after which the entry stops matching.
    """

    legal_basis: str
    authorised_by: str
    entered_by: str
    expires_at: datetime

    def check(self, now: datetime, max_days: float) -> None:
        """Refuse an entry that lacks a field, has expired, or outlives the deployment maximum.

        Raises:
            PolicyError: one line naming the field and the rule.
        """
        for name in ("legal_basis", "authorised_by", "entered_by"):
            value = getattr(self, name).strip()
            if len(value) < _MIN_TEXT:
                raise PolicyError(f"{name} is required (at least {_MIN_TEXT} characters); got {value!r}")
        if self.expires_at.tzinfo is None:
            raise PolicyError(f"expires_at must include a time zone, got {self.expires_at.isoformat()}")
        if self.expires_at <= now:
            raise PolicyError(
                f"expires_at {self.expires_at.isoformat()} is in the past; an entry needs a future expiry"
            )
        limit = now + timedelta(days=max_days)
        if self.expires_at > limit:
            raise PolicyError(
                f"expires_at {self.expires_at.date()} is beyond this deployment's maximum of {max_days:g} days "
                f"({limit.date()}); choose an earlier date"
            )

    def is_expired(self, now: datetime) -> bool:
        return self.expires_at <= now


def parse_expiry(text: str, what: str = "expires") -> datetime:
    """An expiry typed by a person, read by one rule at every door (API, web UI, CLI, CSV).

    A date (``YYYY-MM-DD``) means the end of that day, UTC. A date-time must carry its time
    zone (``Z`` or ``+02:00``): an expiry is a legal deadline, and guessing the zone would move
    it by hours.

    Raises:
        InputError: not a date, or a date-time without a zone (one line naming ``what``).
    """
    value = text.strip()
    try:
        day = date.fromisoformat(value)
    except ValueError:
        pass
    else:
        return datetime.combine(day, time(23, 59, 59), UTC)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InputError(f"{what} {value[:40]!r} is not a date (YYYY-MM-DD) or an ISO date-time with a zone") from exc
    if parsed.tzinfo is None:
        raise InputError(
            f"{what} {value[:40]!r} has no time zone; add one (e.g. Z or +02:00) or give a date (YYYY-MM-DD)"
        )
    return parsed
