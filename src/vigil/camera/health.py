"""Per-camera health counters, updated by the capture thread and the consumer."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from vigil.core.clock import utcnow

CameraState = Literal["starting", "running", "reconnecting", "finished", "failed", "stopped"]


@dataclass(frozen=True, slots=True)
class CameraHealthSnapshot:
    """A consistent copy of one camera's counters at ``taken_at``.

    Attributes:
        frames_in: frames decoded.
        frames_sampled: frames kept by the frame sampler.
        frames_gated: sampled frames skipped by the motion gate.
        frames_dropped: frames dropped because the analysis queue was full.
        frames_analysed: frames the consumer reported as analysed.
        reconnects: reconnect attempts after a source error.
        analysed_fps: analysed frames per second over the last ``window_s`` seconds.
    """

    camera_id: str
    state: CameraState
    frames_in: int
    frames_sampled: int
    frames_gated: int
    frames_dropped: int
    frames_analysed: int
    reconnects: int
    last_error: str | None
    last_error_at: datetime | None
    analysed_fps: float
    taken_at: datetime


class CameraHealth:
    """Thread-safe counters for one camera.

    Args:
        camera_id: the camera's id.
        window_s: length in seconds of the sliding window for ``analysed_fps``.
    """

    def __init__(self, camera_id: str, *, window_s: float = 5.0) -> None:
        if window_s <= 0:
            raise ValueError(f"window_s must be > 0 seconds, got {window_s}")
        self.camera_id = camera_id
        self.window_s = window_s
        self._lock = threading.Lock()
        self._state: CameraState = "starting"
        self._frames_in = 0
        self._frames_sampled = 0
        self._frames_gated = 0
        self._frames_dropped = 0
        self._frames_analysed = 0
        self._reconnects = 0
        self._last_error: str | None = None
        self._last_error_at: datetime | None = None
        self._analysed_at: deque[float] = deque()

    def frame_decoded(self) -> None:
        with self._lock:
            self._frames_in += 1

    def frame_sampled(self) -> None:
        with self._lock:
            self._frames_sampled += 1

    def frame_gated(self) -> None:
        with self._lock:
            self._frames_gated += 1

    def frame_dropped(self) -> None:
        with self._lock:
            self._frames_dropped += 1

    def frame_analysed(self, now_s: float | None = None) -> None:
        """Count one analysed frame; ``now_s`` is monotonic seconds (default: now)."""
        now = time.monotonic() if now_s is None else now_s
        with self._lock:
            self._frames_analysed += 1
            self._analysed_at.append(now)
            self._trim(now)

    def reconnecting(self) -> None:
        """Count a reconnect attempt and enter the ``reconnecting`` state."""
        with self._lock:
            self._reconnects += 1
            self._state = "reconnecting"

    def record_error(self, message: str) -> None:
        with self._lock:
            self._last_error = message
            self._last_error_at = utcnow()

    def set_state(self, state: CameraState) -> None:
        with self._lock:
            self._state = state

    @property
    def state(self) -> CameraState:
        with self._lock:
            return self._state

    def _trim(self, now: float) -> None:
        while self._analysed_at and self._analysed_at[0] <= now - self.window_s:
            self._analysed_at.popleft()

    def snapshot(self, now_s: float | None = None) -> CameraHealthSnapshot:
        """Return all counters at once; ``now_s`` is monotonic seconds (default: now)."""
        now = time.monotonic() if now_s is None else now_s
        with self._lock:
            self._trim(now)
            return CameraHealthSnapshot(
                camera_id=self.camera_id,
                state=self._state,
                frames_in=self._frames_in,
                frames_sampled=self._frames_sampled,
                frames_gated=self._frames_gated,
                frames_dropped=self._frames_dropped,
                frames_analysed=self._frames_analysed,
                reconnects=self._reconnects,
                last_error=self._last_error,
                last_error_at=self._last_error_at,
                analysed_fps=len(self._analysed_at) / self.window_s,
                taken_at=utcnow(),
            )
