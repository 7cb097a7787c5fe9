"""``candidates``: how matches become actionable (human review)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from vigil.config.base import StrictModel


class CandidatesConfig(StrictModel):
    """Human adjudication of face and plate candidates: how many *different user accounts* must
    confirm before a candidate is actionable (ACCOUNTABILITY.md; EU AI Act Art. 14(5) for faces)."""

    face_confirmations: int = Field(
        default=2, ge=1, le=5, description="Different accounts that must confirm a face candidate."
    )
    plate_confirmations: int = Field(
        default=1, ge=1, le=5, description="Different accounts that must confirm a plate candidate."
    )
    required_confirmations: int | None = Field(
        default=None,
        ge=1,
        le=5,
        description="One number for both kinds (older configs); when set it overrides the two above.",
    )

    def confirmations_for(self, kind: Literal["face", "plate"] | str) -> int:
        """Confirmations from different accounts a ``kind`` candidate needs (never below 1)."""
        if self.required_confirmations is not None:
            return self.required_confirmations
        return self.plate_confirmations if kind == "plate" else self.face_confirmations
