"""Camera input: open sources, decode, sample, gate on motion and queue frames for analysis."""

from __future__ import annotations

from vigil.camera.backoff import Backoff
from vigil.camera.capture import CameraCapture
from vigil.camera.health import CameraHealth, CameraHealthSnapshot, CameraState
from vigil.camera.motion import MotionGate
from vigil.camera.sampler import FrameSampler
from vigil.camera.source import VideoSource, is_live_url, mask_url, open_source

__all__ = [
    "Backoff",
    "CameraCapture",
    "CameraHealth",
    "CameraHealthSnapshot",
    "CameraState",
    "FrameSampler",
    "MotionGate",
    "VideoSource",
    "is_live_url",
    "mask_url",
    "open_source",
]
