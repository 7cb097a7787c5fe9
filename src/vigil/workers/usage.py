"""How much of the box each camera uses, so an operator sees how many more cameras fit.

The measure is the process's own CPU time (every thread: decoding, ONNX Runtime's pool, the
stages, the store writer) per wall second, as a share of the CPUs the process may run on. It
is shared out between the cameras by each camera's measured analysis time (detection,
tracking and stages of its frames) over the same seconds, so decoding and the store's work
are charged to the cameras in proportion to what they analyse. Other processes on the machine
are not counted: the figure is what Vigil uses, not what is left.

"More cameras" is a straight-line estimate: cameras like these, until Vigil's CPU time would
fill the CPUs. It ignores bursts and other load; ``bench/cameras_per_box.py`` measures how many
live cameras a box really serves without dropping frames.
"""

from __future__ import annotations

import math
import os
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass


def box_cpus() -> int:
    """CPUs this process may run on (its affinity mask, else the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True, slots=True)
class Usage:
    """One reading of the meter.

    Attributes:
        cpus: CPUs of the box (the process's affinity).
        box_share: share of those CPUs the process used over the window, 0-1.
        per_camera: each camera's part of ``box_share`` (they sum to it).
        window_s: wall seconds the reading covers (0: not enough samples yet).
    """

    cpus: int
    box_share: float
    per_camera: dict[str, float]
    window_s: float

    def more_cameras(self) -> int | None:
        """About how many more cameras like these fit before the CPUs are full (None: unknown)."""
        return more_cameras(len(self.per_camera), self.box_share) if self.window_s > 0 else None


def more_cameras(cameras: int, share: float) -> int | None:
    """Cameras that would still fit if ``cameras`` use ``share`` of the CPUs (straight line);
    None when nothing is known (no camera, or no CPU time measured)."""
    if cameras <= 0 or share <= 0:
        return None
    return max(0, math.floor(cameras / min(1.0, share)) - cameras)


@dataclass(frozen=True, slots=True)
class _Sample:
    wall_s: float
    cpu_s: float
    analysis_s: dict[str, float]


class UsageMeter:
    """Reads the process CPU clock and the cameras' analysis time; reports over a sliding window.

    Args:
        window_s: the reading covers (at least) the last this many seconds once they have passed;
            ``math.inf``: everything since the first sample (a whole run).
        cpus: CPUs of the box; default :func:`box_cpus`.
        cpu_clock: process CPU seconds (all threads).
        wall_clock: monotonic wall seconds.
    """

    def __init__(
        self,
        window_s: float = 10.0,
        *,
        cpus: int | None = None,
        cpu_clock: Callable[[], float] = time.process_time,
        wall_clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if window_s <= 0:
            raise ValueError(f"window_s must be > 0, got {window_s}")
        self._window_s = window_s
        self._cpus = cpus if cpus is not None else box_cpus()
        self._cpu_clock = cpu_clock
        self._wall_clock = wall_clock
        self._samples: deque[_Sample] = deque()

    def sample(self, analysis_s: Mapping[str, float]) -> Usage:
        """Take a sample now (``analysis_s``: each camera's analysis seconds so far) and read."""
        now = _Sample(self._wall_clock(), self._cpu_clock(), dict(analysis_s))
        self._samples.append(now)
        # Keep the newest sample at least window_s old as the base; drop the older ones.
        while len(self._samples) > 2 and now.wall_s - self._samples[1].wall_s >= self._window_s:
            self._samples.popleft()
        base = self._samples[0]
        wall = now.wall_s - base.wall_s
        if wall <= 0:
            return Usage(self._cpus, 0.0, dict.fromkeys(now.analysis_s, 0.0), 0.0)
        share = min(1.0, max(0.0, (now.cpu_s - base.cpu_s) / (wall * self._cpus)))
        spent = {cam: max(0.0, s - base.analysis_s.get(cam, 0.0)) for cam, s in now.analysis_s.items()}
        total = sum(spent.values())
        if total > 0:
            per_camera = {cam: share * s / total for cam, s in spent.items()}
        else:  # nothing analysed (every frame still): the process's cost is shared evenly
            per_camera = {cam: share / len(spent) for cam in spent} if spent else {}
        return Usage(self._cpus, share, per_camera, wall)
