"""Events of the crowd feature: aggregate counts, flows, alerts and heatmaps (no identities).

None of these carries a track id, a box or an image: crowd monitoring reports how many, where
and which way, never who (ACCOUNTABILITY.md).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal, Self

from pydantic import AwareDatetime, Field, field_validator, model_validator

from vigil.events.models import EventBase, _Frozen

CrowdSubjectId = str
CountMethodUsed = Literal["detection", "density", "combined"]


class ZoneCount(_Frozen):
    """People in one zone at one sample."""

    zone_id: str = Field(min_length=1, max_length=64)
    count: int = Field(ge=0, description="The reported count (method below).")
    detection_count: int = Field(ge=0, description="Person detections whose foot point is in the zone.")
    density_count: float | None = Field(default=None, ge=0, description="CSRNet estimate, when one was run.")
    method: CountMethodUsed
    density_per_m2: float | None = Field(default=None, ge=0, description="count / area_m2 when the area is known.")


class CrowdZoneCount(EventBase):
    """One sample of a camera's crowd: the whole frame and every zone."""

    type: Literal["crowd.zone_count"] = "crowd.zone_count"
    schema_version: Literal[1] = 1
    total: ZoneCount = Field(description="The whole frame (zone_id '*').")
    zones: tuple[ZoneCount, ...] = ()


class LineCount(_Frozen):
    """Crossings of one line during a period."""

    line_id: str = Field(min_length=1, max_length=64)
    in_count: int = Field(ge=0)
    out_count: int = Field(ge=0)


class CrowdLineCounts(EventBase):
    """In/out crossings per line since the previous report (``period_start`` .. ``occurred_at``)."""

    type: Literal["crowd.line_counts"] = "crowd.line_counts"
    schema_version: Literal[1] = 1
    period_start: AwareDatetime
    lines: tuple[LineCount, ...]

    @field_validator("period_start", mode="after")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)


class CrowdAlert(EventBase):
    """An over-capacity, surge or counter-flow alert was raised or cleared."""

    type: Literal["crowd.alert"] = "crowd.alert"
    schema_version: Literal[1] = 1
    kind: Literal["over_capacity", "surge", "counter_flow"]
    subject_type: Literal["zone", "line"]
    subject_id: str = Field(min_length=1, max_length=64)
    state: Literal["raised", "cleared"]
    value: float = Field(description="The measured value (count, people/m², rise, wrong-way crossings).")
    threshold: float
    unit: Literal["people", "people_per_m2", "crossings"]
    since: AwareDatetime = Field(description="Raised: when the condition began. Cleared: when it was raised.")

    @field_validator("since", mode="after")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)


class CrowdHeatmap(EventBase):
    """Occupancy grid of one period: person foot points per cell, summed over sampled frames."""

    type: Literal["crowd.heatmap"] = "crowd.heatmap"
    schema_version: Literal[1] = 1
    period_start: AwareDatetime
    cols: int = Field(ge=1, le=512)
    rows: int = Field(ge=1, le=512)
    frames: int = Field(ge=0, description="Sampled frames accumulated.")
    frame_width: int = Field(ge=1)
    frame_height: int = Field(ge=1)
    cells: tuple[int, ...] = Field(description="rows × cols counts, row by row.")

    @field_validator("period_start", mode="after")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    @model_validator(mode="after")
    def _shape(self) -> Self:
        if len(self.cells) != self.cols * self.rows:
            raise ValueError(f"cells has {len(self.cells)} values; expected cols × rows = {self.cols * self.rows}")
        # min() in C: a generator over a heatmap's cells was 2 % of the indexer's decoding.
        if min(self.cells, default=0) < 0:
            raise ValueError("cells must be >= 0")
        return self


CROWD_EVENTS = CrowdZoneCount | CrowdLineCounts | CrowdAlert | CrowdHeatmap
