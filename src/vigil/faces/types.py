"""Face detections as one struct of arrays, and what the quality gate decided about each face."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

RejectReason = Literal["too_small", "low_score", "blurred", "turned", "cut_off"]
REJECT_REASONS: tuple[RejectReason, ...] = ("too_small", "low_score", "blurred", "turned", "cut_off")


@dataclass(frozen=True, slots=True)
class FaceDetections:
    """Faces found in one image, in that image's pixels.

    Attributes:
        boxes: (N, 4) float32 ``x1, y1, x2, y2``.
        landmarks: (N, 5, 2) float32: right eye, left eye, nose tip, right and left mouth corners.
        scores: (N,) float32 detector scores in [0, 1].
    """

    boxes: NDArray[np.float32]
    landmarks: NDArray[np.float32]
    scores: NDArray[np.float32]

    def __post_init__(self) -> None:
        n = len(self.scores)
        if self.boxes.shape != (n, 4) or self.landmarks.shape != (n, 5, 2) or self.scores.shape != (n,):
            raise ValueError(
                f"expected boxes (N, 4), landmarks (N, 5, 2), scores (N,) with one N; got "
                f"{self.boxes.shape}, {self.landmarks.shape}, {self.scores.shape}"
            )

    def __len__(self) -> int:
        return len(self.scores)

    @classmethod
    def empty(cls) -> FaceDetections:
        return cls(np.zeros((0, 4), np.float32), np.zeros((0, 5, 2), np.float32), np.zeros((0,), np.float32))

    def take(self, index: NDArray[np.intp] | list[int]) -> FaceDetections:
        idx = np.asarray(index, dtype=np.intp)
        return FaceDetections(self.boxes[idx], self.landmarks[idx], self.scores[idx])

    def shifted(self, dx: float, dy: float, scale: float = 1.0) -> FaceDetections:
        """Map from a scaled crop back to the source: ``source = crop / scale + (dx, dy)``."""
        off = np.array([dx, dy], np.float32)
        boxes = self.boxes / scale + np.tile(off, 2)
        return FaceDetections(boxes.astype(np.float32), (self.landmarks / scale + off).astype(np.float32), self.scores)

    @staticmethod
    def concat(parts: list[FaceDetections]) -> FaceDetections:
        if not parts:
            return FaceDetections.empty()
        return FaceDetections(
            np.concatenate([p.boxes for p in parts]).astype(np.float32),
            np.concatenate([p.landmarks for p in parts]).astype(np.float32),
            np.concatenate([p.scores for p in parts]).astype(np.float32),
        )

    @property
    def short_sides(self) -> NDArray[np.float32]:
        wh = self.boxes[:, 2:] - self.boxes[:, :2]
        return np.asarray(wh.min(axis=1), np.float32)


@dataclass(frozen=True, slots=True)
class QualityVerdict:
    """Whether one face may be embedded, and the measurements behind the decision."""

    passed: bool
    reason: RejectReason | None
    face_px: float
    score: float
    sharpness: float
    yaw: float

    def describe(self) -> str:
        if self.passed:
            return "usable"
        words = {
            "too_small": f"face too small ({self.face_px:.0f} px)",
            "low_score": f"detector unsure it is a face (score {self.score:.2f})",
            "blurred": f"face too blurred (sharpness {self.sharpness:.0f})",
            "turned": f"face turned too far from the camera (yaw {self.yaw:.2f})",
            "cut_off": "face cut off by the image edge",
        }
        return words[self.reason] if self.reason else "rejected"
