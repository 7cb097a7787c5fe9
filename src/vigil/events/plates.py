"""Events of the plates feature, listed in the ``PLATE_EVENTS`` union that
``events/registry.py`` includes in ``AnyEvent``.

A ``plates.read`` event is published only when the deployment stores plate reads
(``plates.retention_hours`` > 0); hotlist hits are ``candidate.raised`` events with
``kind="plate"`` whatever the retention. ``plates.read_summary`` reports what reading cost
(counters only: never a plate, a crop or a track).
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
    country: str | None = Field(
        default=None, max_length=64, description="Plate country the recogniser's country head voted for."
    )
    country_confidence: float | None = Field(
        default=None, ge=0.0, le=1.0, description="Mean probability the reads gave that country."
    )
    n_reads: int = Field(ge=1, description="Frames read for the vote.")
    box: BoundingBox | None = None
    crop: str | None = Field(default=None, max_length=512, description="Plate crop, relative media path.")
    hit: bool = Field(default=False, description="Matched a hotlist entry (kept with the candidate).")


class PlateReadSummary(EventBase):
    """What the plates stage of one camera did during a run (published when the stream ends).

    The cost of reading is bounded per vehicle (at most ``reads_per_track`` frames); this is
    where an operator sees what it came to.
    """

    type: Literal["plates.read_summary"] = "plates.read_summary"
    schema_version: Literal[1] = 1
    vehicles: int = Field(ge=0, description="Vehicle tracks seen.")
    vehicles_read: int = Field(ge=0, description="Vehicle tracks with at least one frame read.")
    frames_read: int = Field(ge=0, description="Frames read, over all vehicles.")
    reads_per_track: int = Field(ge=1, description="The configured bound on frames read per vehicle.")
    max_frames_per_vehicle: int = Field(ge=0, description="Most frames read of any one vehicle.")
    ocr_calls: int = Field(
        ge=0, description="Calls to the OCR engine, whole-frame reads included (batched recognition counts once)."
    )
    read_ms: float = Field(ge=0.0, description="Time spent reading plates of vehicle tracks, in milliseconds.")
    ms_per_vehicle_read: float = Field(ge=0.0, description="read_ms over vehicles_read (0 when none).")
    frames_scanned: int = Field(
        default=0, ge=0, description="Whole frames read for plates without a vehicle track (plates.frame_scan_s)."
    )
    scan_ms: float = Field(default=0.0, ge=0.0, description="Time spent on those whole-frame reads, in milliseconds.")
    plates: int = Field(ge=0, description="Voted reads at or above min_confidence.")
    hits: int = Field(ge=0, description="Hotlist hits raised as candidates.")
    reads_stored: bool = Field(description="Whether reads that hit nothing were stored (retention_hours > 0).")


PLATE_EVENTS = PlateReadEvent | PlateReadSummary
