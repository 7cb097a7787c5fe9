"""``candidates``: how matches become actionable (human review)."""

from __future__ import annotations

from pydantic import Field

from vigil.config.base import StrictModel


class CandidatesConfig(StrictModel):
    """Human adjudication of face and plate candidates."""

    required_confirmations: int = Field(
        default=1, ge=1, le=2, description="Different people who must confirm before a candidate is actionable."
    )
