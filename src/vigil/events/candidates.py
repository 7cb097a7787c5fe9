"""Candidate matches: a face or a plate that matched a list entry, pending human review.

A candidate is never a verdict. It carries what a reviewer needs to judge it (the probe
crop, the enrolled or hotlisted reference, the score and the false-match rate measured at
the active threshold) and becomes actionable only once people confirm it
(``store.CandidateRepository.decide``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from vigil.events.models import EventBase

CandidateKind = Literal["face", "plate"]
CandidateFlag = Literal["impossible_travel", "fuzzy", "low_quality", "other_region"]


class CandidateRaised(EventBase):
    """The pipeline found a possible match against a watchlist or hotlist entry."""

    type: Literal["candidate.raised"] = "candidate.raised"
    schema_version: Literal[1] = 1
    kind: CandidateKind
    list_entry_id: str = Field(min_length=1, max_length=128, description="Watchlist subject id or hotlist entry id.")
    track_id: str | None = Field(default=None, max_length=128)
    score: float = Field(description="Similarity (faces, cosine) or read confidence (plates).")
    threshold: float | None = Field(default=None, description="The active threshold the score passed.")
    false_match_rate: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="False-match rate measured at the active threshold on a labelled set.",
    )
    calibration_id: str | None = Field(default=None, max_length=64, description="The calibration behind the rate.")
    probe_media: str | None = Field(default=None, max_length=512, description="Probe crop, relative media path.")
    reference_media: str | None = Field(default=None, max_length=512, description="Enrolled/reference image.")
    observed: str | None = Field(default=None, max_length=64, description="What was read (plates): the string.")
    flags: tuple[CandidateFlag, ...] = ()
    detail: str | None = Field(default=None, max_length=2000, description="Why a flag was raised, in words.")
