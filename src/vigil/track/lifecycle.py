"""Turns per-frame tracked detections into track start, update and end changes.

The tracker only says which boxes belong together; this module decides when a track
has begun, when it is worth reporting again, when it has ended, and which frame of it
is the best snapshot (kept in memory as one crop per live track, never more).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

import numpy as np

from vigil.core.detections import Detections
from vigil.core.frame import BGRImage, Frame

ChangeKind = Literal["started", "updated", "ended"]

_SNAPSHOT_MARGIN = 0.1  # share of the box added on each side, so the crop shows context


@dataclass(slots=True)
class TrackState:
    """What is known about one live track.

    ``class_id`` is the class the track's detections were most often called, weighted by their
    confidence (a vehicle may be called a car in one frame and a truck in the next: one track
    follows the family, see :mod:`vigil.track.bytetrack`).
    """

    key: int
    class_id: int
    first_seen: datetime
    last_seen: datetime
    last_seen_s: float
    box: tuple[float, float, float, float]
    confidence: float
    frame_index: int
    n_observations: int = 1
    best_confidence: float = 0.0
    best_score: float = -1.0
    best_crop: BGRImage | None = field(default=None, repr=False)
    best_crop_box: tuple[float, float, float, float] | None = None
    """The tracked box in ``best_crop``'s own pixels (the crop adds a margin around it)."""
    last_reported_s: float = 0.0
    class_votes: dict[int, float] = field(default_factory=dict, repr=False)

    def vote(self, cid: int, confidence: float) -> None:
        """Count one observation's class; the label is the class with the most confidence so far."""
        self.class_votes[cid] = self.class_votes.get(cid, 0.0) + confidence
        self.class_id = max(self.class_votes, key=lambda c: (self.class_votes[c], c == self.class_id))


@dataclass(frozen=True, slots=True)
class TrackChange:
    """A lifecycle step of a track, for the wiring layer to turn into an event."""

    kind: ChangeKind
    track: TrackState
    at: datetime


def _snapshot_score(box: tuple[float, float, float, float], confidence: float, w: int, h: int) -> float:
    """Prefer confident, large boxes that are not cut off by the frame edge."""
    x1, y1, x2, y2 = box
    area = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    cut = x1 <= 1 or y1 <= 1 or x2 >= w - 1 or y2 >= h - 1
    return confidence * float(np.sqrt(area)) * (0.5 if cut else 1.0)


def crop_with_margin(image: BGRImage, box: tuple[float, float, float, float]) -> BGRImage:
    """Copy the box plus a margin out of the image (clipped to the frame)."""
    return crop_and_box(image, box)[0]


def crop_and_box(
    image: BGRImage, box: tuple[float, float, float, float]
) -> tuple[BGRImage, tuple[float, float, float, float]]:
    """:func:`crop_with_margin` and the box in the crop's own pixels."""
    h, w = image.shape[:2]
    x1, y1, x2, y2 = box
    mx, my = (x2 - x1) * _SNAPSHOT_MARGIN, (y2 - y1) * _SNAPSHOT_MARGIN
    xa, ya = max(0, int(x1 - mx)), max(0, int(y1 - my))
    xb, yb = min(w, int(np.ceil(x2 + mx))), min(h, int(np.ceil(y2 + my)))
    if xb <= xa or yb <= ya:
        return np.zeros((1, 1, 3), dtype=np.uint8), (0.0, 0.0, 1.0, 1.0)
    return image[ya:yb, xa:xb].copy(), (x1 - xa, y1 - ya, x2 - xa, y2 - ya)


class TrackLifecycle:
    """Follows the tracks of one camera."""

    def __init__(self, lost_track_s: float, update_interval_s: float) -> None:
        self._lost_track_s = lost_track_s
        self._update_interval_s = update_interval_s
        self._live: dict[int, TrackState] = {}
        self._last_t_s = 0.0
        self._last_at: datetime | None = None

    @property
    def live_tracks(self) -> int:
        return len(self._live)

    def observe(self, frame: Frame, tracked: Detections) -> list[TrackChange]:
        """Fold one analysed frame's tracked detections in; return what changed."""
        changes: list[TrackChange] = []
        t_s, at = frame.pts_s, frame.captured_at
        self._last_t_s, self._last_at = t_s, at
        for i in range(len(tracked)):
            key = int(tracked.tracker_id[i])
            if key < 0:
                continue
            x1, y1, x2, y2 = (float(v) for v in tracked.xyxy[i])
            box = (x1, y1, x2, y2)
            conf = float(tracked.confidence[i])
            state = self._live.get(key)
            if state is None:
                state = TrackState(
                    key=key,
                    class_id=int(tracked.class_id[i]),
                    first_seen=at,
                    last_seen=at,
                    last_seen_s=t_s,
                    box=box,
                    confidence=conf,
                    frame_index=frame.index,
                    last_reported_s=t_s,
                )
                state.vote(int(tracked.class_id[i]), conf)
                self._live[key] = state
                self._consider_snapshot(state, frame, box, conf)
                changes.append(TrackChange("started", state, at))
                continue
            state.last_seen, state.last_seen_s = at, t_s
            state.box, state.confidence, state.frame_index = box, conf, frame.index
            state.n_observations += 1
            state.vote(int(tracked.class_id[i]), conf)
            self._consider_snapshot(state, frame, box, conf)
            if t_s - state.last_reported_s >= self._update_interval_s:
                state.last_reported_s = t_s
                changes.append(TrackChange("updated", state, at))
        for key in [k for k, s in self._live.items() if t_s - s.last_seen_s > self._lost_track_s]:
            state = self._live.pop(key)
            changes.append(TrackChange("ended", state, state.last_seen))
        return changes

    def close_all(self) -> list[TrackChange]:
        """End every live track (end of recording or shutdown)."""
        ended = [TrackChange("ended", s, s.last_seen) for s in self._live.values()]
        self._live.clear()
        return ended

    @staticmethod
    def _consider_snapshot(
        state: TrackState, frame: Frame, box: tuple[float, float, float, float], conf: float
    ) -> None:
        state.best_confidence = max(state.best_confidence, conf)
        score = _snapshot_score(box, conf, frame.width, frame.height)
        if score > state.best_score:
            state.best_score = score
            state.best_crop, state.best_crop_box = crop_and_box(frame.image, box)


def seconds(delta: timedelta) -> float:
    return delta.total_seconds()
