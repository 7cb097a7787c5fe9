"""Read models the repositories return: plain frozen values, detached from any session."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class TrackRecord:
    """One track's summary, as folded from its ``track.*`` events.

    ``n_observations`` counts stored ``track.started``/``track.updated`` events while the track
    is live (updates are sampled), and is the tracker's own count once ``ended`` is True.
    """

    track_id: str
    camera_id: str
    class_name: str
    first_seen: datetime
    last_seen: datetime
    n_observations: int
    best_confidence: float
    snapshot: str | None
    ended: bool


@dataclass(frozen=True, slots=True)
class HealthRecord:
    """The latest ``camera.health`` snapshot of one camera."""

    camera_id: str
    updated_at: datetime
    event_id: str
    frames_in: int
    frames_analysed: int
    frames_dropped: int
    reconnects: int
    analysed_fps: float
    last_error: str | None
    state: str
    cpu_share: float | None = None
