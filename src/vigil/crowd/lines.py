"""In/out counting on lines from track foot points (bottom-centre of person boxes).

A crossing is counted when a track's foot point moves from one side of the line to the other
*through the segment* between two observations where it was clearly on a side (further than
``margin_px`` from the line, so the jitter of a box standing on the line is not counted), and
the new side has held for :data:`CONFIRM_OBSERVATIONS` clear observations in a row: one frame's
box that reaches past the line (a person bending, a box stretched by an occluder or the frame
edge) is not a crossing. Only the confirmed and the pending side and position of each live track
are kept, and they are forgotten as soon as the track ends: counts are all that remain.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vigil.config.crowd import LineConfig
from vigil.crowd.geometry import FloatArray, crosses_segment, side_of_line

CONFIRM_OBSERVATIONS = 3
"""Clear observations in a row on the new side before a crossing counts (0.3–0.6 s at 5–10 fps).

On the bundled people clip a person walking past a table base got two frames of boxes stretched
24 px below her feet, across the line (fp32 detector): 3 keeps that from counting as an `out`."""

Point = tuple[float, float]


@dataclass(slots=True)
class _TrackSide:
    side: int  # confirmed side: +1 / -1
    point: Point  # foot point when it was confirmed
    pending: int = 0  # the other side, seen ``run`` times in a row (0: none)
    run: int = 0
    first: Point = (0.0, 0.0)  # foot point of the pending run's first observation


@dataclass(frozen=True, slots=True)
class Crossing:
    """One crossing: which line and which way (``in`` or ``out``)."""

    line_id: str
    direction: str


class LineCounter:
    """Counts crossings of one camera's lines."""

    def __init__(self, lines: Sequence[LineConfig]) -> None:
        self.lines = tuple(lines)
        # per line: track id -> its confirmed side and any pending change
        self._last: list[dict[str, _TrackSide]] = [{} for _ in self.lines]
        self.totals: dict[str, dict[str, int]] = {line.id: {"in": 0, "out": 0} for line in self.lines}

    def update(self, track_ids: Sequence[str], feet: FloatArray) -> list[Crossing]:
        """Observe the foot points ``(N, 2)`` of the live tracks; return the crossings they made."""
        crossings: list[Crossing] = []
        if not self.lines:
            return crossings
        for k, line in enumerate(self.lines):
            last = self._last[k]
            length = float(np.hypot(line.end[0] - line.start[0], line.end[1] - line.start[1]))
            distance = side_of_line(feet, line) / length if len(track_ids) else np.zeros(0)
            for tid, dist, point in zip(track_ids, distance, feet, strict=True):
                here = (float(point[0]), float(point[1]))
                if abs(dist) <= line.margin_px:
                    continue  # in the dead band: box jitter must not count as a crossing
                side = 1 if dist > 0 else -1
                state = last.get(tid)
                if state is None:
                    last[tid] = _TrackSide(side, here)
                    continue
                if side == state.side:
                    state.pending = state.run = 0  # back on its side: the excursion was noise
                    state.point = here
                    continue
                if state.pending != side:
                    state.pending, state.run, state.first = side, 0, here
                state.run += 1
                if state.run < CONFIRM_OBSERVATIONS:
                    continue
                crossed = crosses_segment(state.point, state.first, line)
                last[tid] = _TrackSide(side, here)
                if not crossed:
                    continue  # changed side around the line's end, not through it
                direction = "in" if side > 0 else "out"
                self.totals[line.id][direction] += 1
                crossings.append(Crossing(line.id, direction))
        return crossings

    def forget(self, track_ids: Sequence[str]) -> None:
        """Drop the state of ended tracks."""
        for last in self._last:
            for tid in track_ids:
                last.pop(tid, None)

    def clear(self) -> None:
        for last in self._last:
            last.clear()
