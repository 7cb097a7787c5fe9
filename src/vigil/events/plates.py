"""Events of the plates feature, listed in the ``PLATE_EVENTS`` union that
``events/registry.py`` includes in ``AnyEvent``.

A ``plates.read`` event is published only when the deployment stores plate reads
(``plates.retention_hours`` > 0); hotlist hits are ``candidate.raised`` events with
``kind="plate"`` whatever the retention.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from vigil.events.models import BoundingBox, EventBase


class PlateReadEvent(EventBase):
    """The voted read of one vehicle's plate."""

    type: Literal["plates.read"] = "plates.read"
    schema_version: Literal[1] = 1
    track_id: str | None = Field(default=None, max_length=128)
    plate: str = Field(min_length=1, max_length=16, pattern=r"^[A-Z0-9]+$", description="A–Z0–9 only.")
    confidence: float = Field(ge=0.0, le=1.0, description="Voted confidence of the read.")
    region: str | None = Field(default=None, max_length=8, description="Region whose format it fits.")
    n_reads: int = Field(ge=1, description="Frames read for the vote.")
    box: BoundingBox | None = None
    crop: str | None = Field(default=None, max_length=512, description="Plate crop, relative media path.")
    hit: bool = Field(default=False, description="Matched a hotlist entry (kept with the candidate).")


PLATE_EVENTS = PlateReadEvent
