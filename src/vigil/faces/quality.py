"""Quality gates on a detected face: size, detector score, edge, pose (from landmarks), blur."""

from __future__ import annotations

from collections import Counter

import cv2
import numpy as np
from numpy.typing import NDArray

from vigil.config.faces import FaceQualityConfig
from vigil.faces.types import FaceDetections, QualityVerdict


def yaw_ratio(landmarks: NDArray[np.float32]) -> float:
    """Nose offset from the eye midline along the eye axis, over the eye distance (0 = frontal).

    ``landmarks``: (5, 2) right eye, left eye, nose, mouth corners.
    """
    right_eye, left_eye, nose = landmarks[0], landmarks[1], landmarks[2]
    axis = left_eye - right_eye
    dist = float(np.hypot(*axis))
    if dist < 1e-3:
        return 1.0
    return float(abs(np.dot(nose - (right_eye + left_eye) / 2, axis / dist)) / dist)


def sharpness(aligned: NDArray[np.uint8]) -> float:
    """Variance of the Laplacian of the grey aligned face (low = blurred)."""
    grey = cv2.cvtColor(aligned, cv2.COLOR_BGR2GRAY) if aligned.ndim == 3 else aligned
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


class QualityGate:
    """Decides which faces are good enough to embed and counts rejections by reason."""

    def __init__(self, cfg: FaceQualityConfig) -> None:
        self.cfg = cfg
        self.rejected: Counter[str] = Counter()
        self.passed = 0

    def check(
        self,
        faces: FaceDetections,
        i: int,
        image_shape: tuple[int, ...],
        aligned: NDArray[np.uint8] | None,
    ) -> QualityVerdict:
        """Judge face ``i`` of ``faces`` (in an image of ``image_shape``); ``aligned`` is its 112x112 crop."""
        h, w = image_shape[:2]
        face_px = float(faces.short_sides[i])
        score = float(faces.scores[i])
        lm = faces.landmarks[i]
        yaw = yaw_ratio(lm)
        sharp = sharpness(aligned) if aligned is not None else 0.0
        reason: str | None = None
        if face_px < self.cfg.min_face_px:
            reason = "too_small"
        elif score < self.cfg.min_detector_score:
            reason = "low_score"
        elif (lm[:, 0] < 0).any() or (lm[:, 1] < 0).any() or (lm[:, 0] >= w).any() or (lm[:, 1] >= h).any():
            reason = "cut_off"
        elif yaw > self.cfg.max_yaw:
            reason = "turned"
        elif sharp < self.cfg.min_sharpness:
            reason = "blurred"
        if reason is None:
            self.passed += 1
        else:
            self.rejected[reason] += 1
        return QualityVerdict(reason is None, reason, face_px, score, sharp, yaw)  # type: ignore[arg-type]
