"""In/out counting on lines from track foot points (bottom-centre of person boxes).

A crossing is counted when a track's foot point moves from one side of the line to the other
*through the segment* between two observations where it was clearly on a side (further than
``margin_px`` from the line, so the jitter of a box standing on the line is not counted).
Only the last side and position of each live track is kept, and it is forgotten as soon as
the track ends: counts are all that remain.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vigil.config.crowd import LineConfig
from vigil.crowd.geometry import FloatArray, crosses_segment, side_of_line


@dataclass(frozen=True, slots=True)
class Crossing:
    """One crossing: which line and which way (``in`` or ``out``)."""

    line_id: str
    direction: str


class LineCounter:
    """Counts crossings of one camera's lines."""

    def __init__(self, lines: Sequence[LineConfig]) -> None:
        self.lines = tuple(lines)
        # per line: track id -> (side sign, foot point) at its last observation
        self._last: list[dict[str, tuple[int, tuple[float, float]]]] = [{} for _ in self.lines]
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
                prev = last.get(tid)
                last[tid] = (int(side), here)
                if prev is None or prev[0] == side or not crosses_segment(prev[1], here, line):
                    continue
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
