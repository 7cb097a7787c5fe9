"""Struct-of-arrays detections: the one data type that crosses stage boundaries."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float32]
IntArray = NDArray[np.int64]


def _empty_boxes() -> FloatArray:
    return np.zeros((0, 4), dtype=np.float32)


def _empty_f() -> FloatArray:
    return np.zeros((0,), dtype=np.float32)


def _empty_i() -> IntArray:
    return np.zeros((0,), dtype=np.int64)


@dataclass(slots=True)
class Detections:
    """N detections in one frame.

    Attributes:
        xyxy: ``(N, 4)`` float32 boxes in pixels, ``x1, y1, x2, y2``.
        confidence: ``(N,)`` float32 scores in ``[0, 1]``.
        class_id: ``(N,)`` int64 COCO class ids.
        tracker_id: ``(N,)`` int64 track ids; ``-1`` where not (yet) tracked.
    """

    xyxy: FloatArray = field(default_factory=_empty_boxes)
    confidence: FloatArray = field(default_factory=_empty_f)
    class_id: IntArray = field(default_factory=_empty_i)
    tracker_id: IntArray = field(default_factory=_empty_i)

    def __post_init__(self) -> None:
        self.xyxy = np.asarray(self.xyxy, dtype=np.float32).reshape(-1, 4)
        n = self.xyxy.shape[0]
        self.confidence = np.asarray(self.confidence, dtype=np.float32).reshape(-1)
        self.class_id = np.asarray(self.class_id, dtype=np.int64).reshape(-1)
        if np.asarray(self.tracker_id).size == 0 and n > 0:
            self.tracker_id = np.full((n,), -1, dtype=np.int64)
        else:
            self.tracker_id = np.asarray(self.tracker_id, dtype=np.int64).reshape(-1)
        for name in ("confidence", "class_id", "tracker_id"):
            got = getattr(self, name).shape[0]
            if got != n:
                raise ValueError(f"Detections.{name} has {got} entries; expected {n} to match xyxy of shape ({n}, 4)")

    def __len__(self) -> int:
        return int(self.xyxy.shape[0])

    @classmethod
    def empty(cls) -> Detections:
        return cls()

    def select(self, mask: NDArray[np.bool_] | IntArray) -> Detections:
        """Return the detections picked by a boolean mask or an index array."""
        return Detections(
            xyxy=self.xyxy[mask],
            confidence=self.confidence[mask],
            class_id=self.class_id[mask],
            tracker_id=self.tracker_id[mask],
        )

    @property
    def area(self) -> FloatArray:
        w = np.clip(self.xyxy[:, 2] - self.xyxy[:, 0], 0, None)
        h = np.clip(self.xyxy[:, 3] - self.xyxy[:, 1], 0, None)
        area: FloatArray = (w * h).astype(np.float32)
        return area
