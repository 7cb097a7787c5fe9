"""YuNet face detection (``cv2.FaceDetectorYN``) with the scale chosen per input.

YuNet at native resolution splits very large faces (multi-megapixel photos) into partial
boxes, while shrinking a frame loses the small faces CCTV produces. So:

* ``detect_photo``: a coarse pass with the long side scaled to ``coarse_long_side_px`` finds
  large faces; when the image is much larger than that, a fine pass (long side up to
  ``fine_long_side_px``) adds the small faces the coarse pass could not see. Fine-pass boxes
  that overlap a coarse one, or are large at the fine scale (where splitting happens), are
  dropped in favour of the coarse pass.
* ``detect_region``: a person's head region (already small): scaled up to at least
  ``min_region_side_px`` so that 20-40 px faces reach YuNet's comfortable range, or down to
  the coarse size when the person fills the frame.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from vigil.core.errors import ModelError
from vigil.faces.types import FaceDetections

YUNET_FILE = "face_detection_yunet_2023mar_int8bq.onnx"
_FINE_KEEP_MAX_PX = 160.0
"""At the fine scale, a face larger than this would have been found by the coarse pass."""


def _overlap_of_smaller(a: NDArray[np.float32], b: NDArray[np.float32]) -> NDArray[np.float32]:
    """(N, M) intersection area over the smaller box's area."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), np.float32)
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    smaller = np.minimum(area_a[:, None], area_b[None, :])
    return np.asarray(inter / np.maximum(smaller, 1e-6), np.float32)


class YuNetDetector:
    """Face boxes with five landmarks. One instance per thread (OpenCV's detector keeps state)."""

    def __init__(
        self,
        model_dir: Path,
        *,
        score_threshold: float = 0.6,
        nms_iou: float = 0.3,
        coarse_long_side_px: int = 640,
        fine_long_side_px: int = 1920,
        min_region_side_px: int = 320,
    ) -> None:
        path = model_dir / YUNET_FILE
        try:
            self._net = cv2.FaceDetectorYN.create(str(path), "", (320, 320), score_threshold, nms_iou, 5000)
        except cv2.error as exc:
            raise ModelError(f"cannot load YuNet from {path}: {str(exc).strip().splitlines()[-1]}") from exc
        self._size = (320, 320)
        self.coarse_long_side_px = coarse_long_side_px
        self.fine_long_side_px = fine_long_side_px
        self.min_region_side_px = min_region_side_px

    def _run(self, image: NDArray[np.uint8], scale: float) -> FaceDetections:
        """Detect on ``image`` resized by ``scale``; results in ``image``'s pixels."""
        h, w = image.shape[:2]
        if h == 0 or w == 0:
            return FaceDetections.empty()
        sw, sh = max(1, round(w * scale)), max(1, round(h * scale))
        resized = (
            image
            if (sw, sh) == (w, h)
            else cv2.resize(image, (sw, sh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        )
        if self._size != (sw, sh):
            self._net.setInputSize((sw, sh))
            self._size = (sw, sh)
        _, raw = self._net.detect(resized)
        if raw is None or len(raw) == 0:
            return FaceDetections.empty()
        raw = np.asarray(raw, np.float32)
        # On inputs of a few dozen pixels YuNet can return inf/NaN rows: drop them before any
        # arithmetic (they are not faces, and NumPy would warn on them).
        raw = raw[np.isfinite(raw).all(axis=1)]
        if len(raw) == 0:
            return FaceDetections.empty()
        xywh = raw[:, 0:4]
        boxes = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:4]], axis=1)
        found = FaceDetections(
            boxes.astype(np.float32),
            raw[:, 4:14].reshape(-1, 5, 2).astype(np.float32),
            raw[:, 14].astype(np.float32),
        )
        return found.shifted(0.0, 0.0, scale) if scale != 1.0 else found

    def detect_scaled(self, image: NDArray[np.uint8], scale: float) -> FaceDetections:
        """Faces in ``image`` resized by ``scale`` (up for small faces, down for large ones),
        in ``image``'s pixels; boxes that YuNet returns outside the image (it does on inputs of
        a few dozen pixels) are dropped."""
        found = self._run(image, scale)
        if len(found) == 0:
            return found
        h, w = image.shape[:2]
        b = found.boxes
        sane = (
            np.isfinite(b).all(axis=1)
            & (b[:, 2] > b[:, 0])
            & (b[:, 3] > b[:, 1])
            & (b[:, 0] < w)
            & (b[:, 1] < h)
            & (b[:, 2] > 0)
            & (b[:, 3] > 0)
            & (b[:, 2] - b[:, 0] <= 2 * w)
            & (b[:, 3] - b[:, 1] <= 2 * h)
        )
        return found if bool(sane.all()) else found.take(np.flatnonzero(sane))

    def detect_photo(self, image: NDArray[np.uint8]) -> FaceDetections:
        """Every face in a photo or frame, large or small."""
        h, w = image.shape[:2]
        long_side = max(h, w)
        coarse_scale = min(1.0, self.coarse_long_side_px / long_side) if long_side else 1.0
        coarse = self._run(image, coarse_scale)
        if long_side <= self.coarse_long_side_px * 1.5:
            return coarse
        fine_scale = min(1.0, self.fine_long_side_px / long_side)
        fine = self._run(image, fine_scale)
        if len(fine) == 0:
            return coarse
        small = fine.short_sides * fine_scale <= _FINE_KEEP_MAX_PX
        overlap = _overlap_of_smaller(fine.boxes, coarse.boxes)
        new = small & ~(overlap > 0.3).any(axis=1) if len(coarse) else small
        return FaceDetections.concat([coarse, fine.take(np.flatnonzero(new))])

    def detect_region(self, region: NDArray[np.uint8]) -> FaceDetections:
        """Faces in a small region (a person's head area), scaled to YuNet's working range."""
        h, w = region.shape[:2]
        if h < 8 or w < 8:
            return FaceDetections.empty()
        short_side, long_side = min(h, w), max(h, w)
        if long_side > self.coarse_long_side_px:
            scale = self.coarse_long_side_px / long_side
        elif short_side < self.min_region_side_px:
            scale = min(4.0, self.min_region_side_px / short_side, self.coarse_long_side_px / long_side)
        else:
            scale = 1.0
        return self._run(region, scale)
