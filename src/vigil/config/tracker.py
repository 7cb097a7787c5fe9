"""``tracker``: multi-object tracking and track lifecycle events."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from vigil.config.base import StrictModel


class TrackerConfig(StrictModel):
    """ByteTrack (Roboflow ``trackers``) and when tracks become events."""

    type: Literal["bytetrack"] = "bytetrack"
    lost_track_s: float = Field(default=3.0, gt=0, le=60, description="A track unseen this long has ended.")
    activation_threshold: float = Field(default=0.5, gt=0, lt=1, description="Score needed to start a track.")
    min_consecutive_frames: int = Field(default=2, ge=1, le=30, description="Frames before a track is confirmed.")
    min_iou: float = Field(default=0.1, gt=0, lt=1)
    update_interval_s: float = Field(
        default=5.0, gt=0, le=3600, description="Emit a track.updated event at most this often per track."
    )
