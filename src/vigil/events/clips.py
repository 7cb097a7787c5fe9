"""A clip was kept around a candidate or an alert (never continuous recording)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Literal

from pydantic import AwareDatetime, Field, field_validator

from vigil.events.models import EventBase

ClipSubject = Literal["candidate", "crowd_alert"]


class ClipRecorded(EventBase):
    """The few seconds before and after a candidate or a crowd alert, stored as an H.264 MP4.

    ``media`` has every face blurred (what every footage role is shown); ``media_kept``, only
    for a face candidate, keeps the faces of the candidate's own track (a supervisor's
    unredacted view, with a reason)."""

    type: Literal["clip.recorded"] = "clip.recorded"
    schema_version: Literal[1] = 1
    subject_type: ClipSubject
    subject_id: str = Field(min_length=1, max_length=64, description="The candidate's or the alert's event id.")
    subject_at: AwareDatetime = Field(description="When the subject happened (the clip shares its retention).")
    track_id: str | None = Field(default=None, max_length=128, description="The candidate's track, if any.")
    media: str = Field(min_length=1, max_length=512, description="The clip, faces blurred; relative media path.")
    media_kept: str | None = Field(default=None, max_length=512, description="Face candidate's track kept clear.")
    started_at: AwareDatetime
    ended_at: AwareDatetime
    frames: int = Field(ge=1)
    width: int = Field(ge=1)
    height: int = Field(ge=1)

    @field_validator("subject_at", "started_at", "ended_at", mode="after")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    @field_validator("media", "media_kept", mode="after")
    @classmethod
    def _relative(cls, value: str | None) -> str | None:
        if value is not None:
            path = PurePosixPath(value)
            if path.is_absolute() or ".." in path.parts or "\\" in value:
                raise ValueError(f"clip media must be a relative media path without '..', got {value!r}")
        return value
