"""OpenCV's Darknet importer as a reference YOLO detector (baseline and conversion check).

It shares pre- and post-processing with :class:`vigil.detect.yolo.YoloDetector`, so any
difference between the two is the network itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from vigil.core.classes import COCO_NAMES
from vigil.core.detections import Detections
from vigil.core.errors import ModelError
from vigil.core.frame import BGRImage
from vigil.detect.yolo import check_detector_args, image_to_blob
from vigil.detect.yolo_decode import candidates_from_rows, to_detections


class OpenCVDarknetDetector:
    """YOLO via ``cv2.dnn.readNetFromDarknet`` (OpenCV 4.x; OpenCV 5 has no Darknet importer).

    Args:
        cfg: Darknet ``.cfg`` file.
        weights: Darknet ``.weights`` file.
        input_size, confidence, nms_iou, class_ids: as for ``YoloDetector``.
        threads: passed to ``cv2.setNumThreads``, which is process-wide.
        names: optional class-name file, one per line; default COCO.

    Raises:
        ModelError: OpenCV cannot read the files.
    """

    def __init__(
        self,
        cfg: Path,
        weights: Path,
        *,
        input_size: int = 416,
        confidence: float = 0.25,
        nms_iou: float = 0.45,
        class_ids: Sequence[int] | None = None,
        threads: int = 1,
        names: Path | None = None,
    ) -> None:
        check_detector_args(input_size, confidence, nms_iou, threads)
        for path in (cfg, weights):
            if not path.is_file():
                raise ModelError(f"Darknet file {path} does not exist")
        try:
            self._net = cv2.dnn.readNetFromDarknet(str(cfg), str(weights))
        except cv2.error as exc:
            raise ModelError(f"OpenCV cannot read {cfg.name}/{weights.name}: {str(exc).strip()}") from exc
        self._net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
        self._net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
        self._outputs = list(self._net.getUnconnectedOutLayersNames())
        self._threads = threads
        if names is None:
            self._names: tuple[str, ...] = COCO_NAMES
        else:
            self._names = tuple(line.strip() for line in names.read_text().splitlines() if line.strip())
        self.input_size = input_size
        self.confidence = confidence
        self.nms_iou = nms_iou
        self._class_ids = None if class_ids is None else np.asarray(list(class_ids), dtype=np.int64)

    @property
    def class_names(self) -> tuple[str, ...]:
        """Names of the model's classes, indexed by class id."""
        return self._names

    def detect(self, image: BGRImage) -> Detections:
        """Detect objects in one ``(H, W, 3)`` uint8 BGR image (boxes in its pixels, clipped)."""
        height, width = image.shape[:2]
        if height == 0 or width == 0:
            return Detections.empty()
        cv2.setNumThreads(self._threads)
        self._net.setInput(image_to_blob(image, self.input_size))
        outs = self._net.forward(self._outputs)
        rows = np.concatenate([np.asarray(o, dtype=np.float32).reshape(-1, o.shape[-1]) for o in outs])
        return to_detections(candidates_from_rows(rows, self.confidence), width, height, self.nms_iou, self._class_ids)
