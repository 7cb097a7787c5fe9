"""Versioned event models: the only messages that cross the bus.

Every event is a frozen pydantic model with its own id (UUIDv7), a ``type`` literal and a
``schema_version`` per type. ``AnyEvent`` is a discriminated union on ``type``.

Adding an event type:
    1. Subclass :class:`EventBase` (in this module, or a feature module such as
       ``events/faces.py``) with ``type: Literal["x.y"] = "x.y"`` and
       ``schema_version: Literal[1] = 1``.
    2. Add the class to ``AnyEvent`` in ``events/registry.py``. ``EVENT_TYPES`` and
       :func:`parse_event` pick it up from the union; nothing else to register.

Changing an event's shape means a new ``schema_version`` (and, while old messages may still be
in flight or stored, a reader for the old one): consumers must never guess.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated, Literal, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from vigil.core.ids import new_id

CameraId = Annotated[str, Field(min_length=1, max_length=128, description="Config `cameras[].id`.")]
TrackId = Annotated[
    str,
    Field(min_length=1, max_length=128, description="Unique per camera run, e.g. `<camera>-<run>-<n>`."),
]
Confidence = Annotated[float, Field(ge=0.0, le=1.0, description="Detector score in [0, 1].")]

CameraState = Literal["starting", "running", "reconnecting", "stalled", "finished", "stopped", "failed"]
"""Lifecycle of a camera worker, as reported in ``camera.health``."""


class _Frozen(BaseModel):
    """Strict, immutable, JSON-safe base (no NaN/inf: they do not survive JSON)."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class BoundingBox(_Frozen):
    """Axis-aligned box in pixels of the analysed frame: ``(x1, y1)`` top-left, ``(x2, y2)`` bottom-right."""

    x1: float
    y1: float
    x2: float
    y2: float

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.x2 < self.x1 or self.y2 < self.y1:
            raise ValueError(
                f"box corners out of order: expected x1<=x2 and y1<=y2, got "
                f"({self.x1}, {self.y1}, {self.x2}, {self.y2})"
            )
        return self


class EventBase(_Frozen):
    """Fields every event carries. Subclasses pin ``type`` and ``schema_version``."""

    event_id: str = Field(default_factory=new_id, min_length=1, max_length=64)
    camera_id: CameraId
    occurred_at: AwareDatetime = Field(description="When it happened (aware; stored as UTC).")

    @field_validator("occurred_at", mode="after")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        # One time zone everywhere: comparisons and SQL range queries stay trivial.
        return value.astimezone(UTC)


class _TrackEventBase(EventBase):
    """The observation a track event reports (the latest one, for updates and ends)."""

    track_id: TrackId
    class_name: str = Field(min_length=1, max_length=64)
    box: BoundingBox
    confidence: Confidence
    frame_index: int = Field(ge=0, description="Index of the frame (``Frame.index``) observed.")


class TrackStarted(_TrackEventBase):
    """A new track was confirmed by the tracker."""

    type: Literal["track.started"] = "track.started"
    schema_version: Literal[1] = 1


class TrackUpdated(_TrackEventBase):
    """A live track was observed again (sampled: not necessarily every frame)."""

    type: Literal["track.updated"] = "track.updated"
    schema_version: Literal[1] = 1


class TrackEnded(_TrackEventBase):
    """A track was lost or left the scene; carries the track's summary."""

    type: Literal["track.ended"] = "track.ended"
    schema_version: Literal[1] = 1
    first_seen: AwareDatetime
    last_seen: AwareDatetime
    n_observations: int = Field(ge=1)
    best_confidence: Confidence
    snapshot: str | None = Field(
        default=None, max_length=512, description="Media path relative to the media root, or None."
    )
    end_reason: str | None = Field(
        default=None,
        max_length=300,
        description="Why the track ended when it was not seen to leave (e.g. orphaned by a killed process).",
    )

    @field_validator("first_seen", "last_seen", mode="after")
    @classmethod
    def _summary_to_utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    @field_validator("snapshot", mode="after")
    @classmethod
    def _relative_snapshot(cls, value: str | None) -> str | None:
        # Events may be replayed from another machine: an absolute path or `..` would point
        # outside that machine's media root.
        # The string test is what ``PurePosixPath`` would decide (absolute: a leading "/";
        # ".." as a part: a "/"-separated component), without building a path per event
        # (13 us of the indexer's decode of every track.ended).
        if value is not None and (not value or value[0] == "/" or ".." in value.split("/") or "\\" in value):
            raise ValueError(f"snapshot must be a relative media path without '..', got {value!r}")
        return value

    @model_validator(mode="after")
    def _seen_order(self) -> Self:
        if self.last_seen < self.first_seen:
            raise ValueError(f"last_seen {self.last_seen} is before first_seen {self.first_seen}")
        return self


class CameraHealth(EventBase):
    """Periodic counters of one camera worker; the store keeps the latest per camera."""

    type: Literal["camera.health"] = "camera.health"
    schema_version: Literal[1] = 1
    frames_in: int = Field(ge=0, description="Frames decoded since the worker started.")
    frames_analysed: int = Field(ge=0, description="Frames that went through detection.")
    frames_dropped: int = Field(ge=0, description="Frames dropped because analysis was busy.")
    reconnects: int = Field(ge=0)
    last_error: str | None = Field(default=None, max_length=2000)
    state: CameraState
    analysed_fps: float = Field(ge=0.0, description="Recent analysed frames per second.")
    cpu_share: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="Share of the box's CPUs this camera used recently (vigil.workers.usage); None: not measured.",
    )

    @field_validator("analysed_fps", mode="after")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("analysed_fps must be finite")
        return value


class RecordingProgress(EventBase):
    """How far a recording (a file camera) has been analysed: published after the events of the
    frames it covers, so once it is stored every event before ``analysed_until_s`` is too. A
    restarted run resumes after it, or refuses a recording already ``finished``."""

    type: Literal["camera.recording"] = "camera.recording"
    schema_version: Literal[1] = 1
    recording: str = Field(min_length=1, max_length=2000, description="The file, as configured.")
    fingerprint: str = Field(min_length=1, max_length=128, description="Size and SHA-256 of the file's ends.")
    run_id: str = Field(min_length=1, max_length=64)
    analysed_until_s: float = Field(ge=0.0, description="Presentation time of the last analysed frame.")
    last_frame_index: int = Field(ge=-1, description="Index of that frame (-1: none yet).")
    finished: bool = Field(description="The whole recording was analysed.")


TrackEvent = TrackStarted | TrackUpdated | TrackEnded
