"""Small rules every domain service applies the same way: reasons and pages."""

from __future__ import annotations

from vigil.config import VigilConfig
from vigil.core.errors import ReasonRequiredError


def need_reason(config: VigilConfig, reason: str | None, what: str) -> str:
    """The stripped reason, at least ``governance.min_reason_chars`` long.

    Raises:
        ReasonRequiredError: no reason, or a shorter one (one line naming ``what``).
    """
    text = (reason or "").strip()
    minimum = config.governance.min_reason_chars
    if len(text) < minimum:
        raise ReasonRequiredError(
            f"{what} needs a reason (at least {minimum} characters): it is recorded in the audit log"
        )
    return text


def optional_reason(reason: str | None) -> str | None:
    """A reason that may be left out: stripped, or None when empty."""
    text = (reason or "").strip()
    return text or None
