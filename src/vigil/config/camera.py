"""``cameras[]``: where video comes from and how often it is analysed."""

from __future__ import annotations

import re
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from vigil.config.base import StrictModel
from vigil.config.crowd import Lines, Zones

CAMERA_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
ALLOWED_SCHEMES = ("file", "rtsp", "rtsps", "http", "https")


class Position(StrictModel):
    """Where the camera is, for cross-camera checks such as impossible travel."""

    lat: float = Field(ge=-90, le=90, description="Latitude in degrees (WGS 84).")
    lon: float = Field(ge=-180, le=180, description="Longitude in degrees (WGS 84).")


class MotionGateConfig(StrictModel):
    """Skip analysis of still frames so quiet scenes cost little."""

    enabled: bool = Field(default=True, description="Analyse only frames with motion.")
    threshold: float = Field(default=0.003, gt=0, lt=1, description="Fraction of changed pixels that counts as motion.")
    keepalive_s: float = Field(
        default=2.0,
        gt=0,
        le=60,
        description="Analyse at least one frame this often even when still, so tracks end.",
    )


class CameraConfig(StrictModel):
    """One camera or recording."""

    id: str = Field(pattern=CAMERA_ID_PATTERN, description="Stable id: lower case, digits, '-' and '_'.")
    name: str | None = Field(default=None, max_length=200, description="Human-readable name.")
    url: str = Field(min_length=1, description="File path, rtsp://, rtsps://, http:// or https:// URL.")
    enabled: bool = True
    rtsp_transport: Literal["tcp", "udp"] = Field(default="tcp", description="RTSP lower transport.")
    analysis_fps: float = Field(default=5.0, gt=0, le=60, description="Frames analysed per second.")
    queue_s: float = Field(
        default=2.0,
        gt=0,
        le=10,
        description="Seconds of frames (at analysis_fps, at least 2) a live camera holds while its analysis is "
        "busy; further frames are dropped. Rides out a stall, such as a track's snapshot being redacted when "
        "it ends (~0.7 s CPU for a 120x300 person), at the cost of that much latency (0.4 s dropped frames at "
        "2 cameras: bench/cameras_per_box.py, docs/detectors.md).",
    )
    open_timeout_s: float = Field(default=10.0, gt=0, le=300)
    read_timeout_s: float = Field(default=10.0, gt=0, le=300, description="A stream silent this long has stalled.")
    reconnect_initial_s: float = Field(default=1.0, gt=0, le=60)
    reconnect_max_s: float = Field(default=30.0, gt=0, le=3600)
    motion_gate: MotionGateConfig = Field(default_factory=MotionGateConfig)
    plates_frame_scan_s: float | None = Field(
        default=None,
        ge=0.0,
        le=3600.0,
        description=(
            "This camera's plates.frame_scan_s (e.g. an ANPR camera whose close-up vehicles the detector "
            "misses); unset: the plates section's."
        ),
    )
    blur_plates: bool | None = Field(
        default=None,
        description="Blur plates in this camera's images (overrides governance.redaction.plates; "
        "false for an ANPR camera whose every plate is the subject, where the law allows).",
    )
    position: Position | None = Field(default=None, description="Camera location, if known.")
    zones: Zones = Field(default=(), description="Crowd zones (polygons in frame pixels); see config/crowd.py.")
    lines: Lines = Field(default=(), description="Crowd counting lines (frame pixels); see config/crowd.py.")

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        scheme = urlsplit(value).scheme.lower()
        # A Windows drive letter or a bare path has no (or a one-letter) scheme: it is a file.
        if scheme and len(scheme) > 1 and scheme not in ALLOWED_SCHEMES:
            raise ValueError(f"URL scheme {scheme!r} is not supported; allowed: {', '.join(ALLOWED_SCHEMES)}")
        return value

    @property
    def display_name(self) -> str:
        return self.name or self.id

    @property
    def is_file(self) -> bool:
        scheme = urlsplit(self.url).scheme.lower()
        return not scheme or len(scheme) == 1 or scheme == "file"


def slug(text: str) -> str:
    """Turn a file name into a valid camera id."""
    s = re.sub(r"[^a-z0-9_-]+", "-", text.lower()).strip("-_")
    return (s or "camera")[:63]
