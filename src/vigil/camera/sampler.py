"""Pick frames by presentation time so analysis runs at a set rate whatever the source fps."""

from __future__ import annotations

_EPS_S = 1e-6


class FrameSampler:
    """Select frames so that accepted pts are at least ``1 / analysis_fps`` apart on average.

    The schedule advances by whole periods from the first accepted frame, so a 25 fps
    source sampled at 10 fps yields 10 frames per second of pts (not 8.33 as "every
    third frame" would). A pts that jumps backwards (reconnect, looped file) restarts
    the schedule.

    Args:
        analysis_fps: frames per second of pts to pass; ``None`` or ``0`` passes every frame.
    """

    def __init__(self, analysis_fps: float | None) -> None:
        if analysis_fps is not None and analysis_fps < 0:
            raise ValueError(f"analysis_fps must be >= 0 frames/s or None, got {analysis_fps}")
        self.analysis_fps = analysis_fps or 0.0
        self._period_s = 1.0 / self.analysis_fps if self.analysis_fps > 0 else 0.0
        self._next_due_s: float | None = None
        self._last_pts_s: float | None = None

    def accept(self, pts_s: float) -> bool:
        """Return True if the frame at ``pts_s`` (seconds) should be analysed."""
        if self._period_s == 0.0:
            return True
        if self._last_pts_s is not None and pts_s < self._last_pts_s:
            self._next_due_s = None
        self._last_pts_s = pts_s
        if self._next_due_s is not None and pts_s < self._next_due_s - _EPS_S:
            return False
        due = pts_s if self._next_due_s is None else self._next_due_s
        due += self._period_s
        # After a gap (dropped packets, paused source) do not burst to catch up.
        self._next_due_s = due if due > pts_s else pts_s + self._period_s
        return True

    def reset(self) -> None:
        """Start a new schedule at the next frame (call after a reconnect)."""
        self._next_due_s = None
        self._last_pts_s = None
