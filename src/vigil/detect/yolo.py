"""YOLO detector on ONNX Runtime, for models converted by Vigil's Darknet converter."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from vigil.core.detections import Detections
from vigil.core.errors import ModelError
from vigil.core.frame import BGRImage
from vigil.core.onnx_session import make_session
from vigil.detect.yolo_decode import decode_heads, parse_metadata, to_detections

MODEL_FILE = "model.onnx"
"""Name of the graph inside an installed detector's model directory."""


def image_to_blob(image: BGRImage, input_size: int) -> NDArray[np.float32]:
    """Darknet-style input: plain resize (no letterbox), BGR→RGB, scale to ``[0, 1]``.

    Args:
        image: ``(H, W, 3)`` uint8 BGR.
        input_size: network input side S.

    Returns:
        ``(1, 3, S, S)`` float32 RGB blob, as ``cv2.dnn.blobFromImage(..., swapRB=True)``.
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 BGR image, got {image.shape} {image.dtype}")
    blob = cv2.dnn.blobFromImage(image, 1.0 / 255.0, (input_size, input_size), swapRB=True, crop=False)
    return np.asarray(blob, dtype=np.float32)


def check_detector_args(input_size: int, confidence: float, nms_iou: float, threads: int) -> None:
    """Validate the arguments both YOLO detectors share; errors name the argument and its range."""
    if input_size < 32 or input_size % 32:
        raise ValueError(f"input_size must be a positive multiple of 32, got {input_size}")
    if not 0.0 < confidence <= 1.0:
        raise ValueError(f"confidence must be in (0, 1], got {confidence}")
    if not 0.0 < nms_iou <= 1.0:
        raise ValueError(f"nms_iou must be in (0, 1], got {nms_iou}")
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")


class YoloDetector:
    """Darknet YOLO (v3/v4, tiny or full) converted to ONNX, run on ONNX Runtime's CPU provider.

    Args:
        model_dir: an installed model directory holding ``model.onnx`` (or the ``.onnx`` file).
        input_size: square network input side; a multiple of 32 (416 is what the model was trained at).
        confidence: minimum objectness x class probability.
        nms_iou: class-wise NMS IoU threshold.
        class_ids: COCO class ids to keep; None keeps all.
        threads: ONNX Runtime intra-op threads.

    Raises:
        ModelError: the model is missing, not loadable, or not a Vigil-converted YOLO model.
    """

    def __init__(
        self,
        model_dir: Path,
        *,
        input_size: int = 416,
        confidence: float = 0.25,
        nms_iou: float = 0.45,
        class_ids: Sequence[int] | None = None,
        threads: int = 1,
    ) -> None:
        check_detector_args(input_size, confidence, nms_iou, threads)
        path = model_dir if model_dir.suffix == ".onnx" else model_dir / MODEL_FILE
        self._session = make_session(path, threads)
        self._spec = parse_metadata(self._session.get_modelmeta().custom_metadata_map, str(path))
        outputs = [o.name for o in self._session.get_outputs()]
        missing = [h.output for h in self._spec.heads if h.output not in outputs]
        if missing:
            raise ModelError(f"{path}: metadata names outputs {missing} that the graph lacks ({outputs})")
        self._outputs = [h.output for h in self._spec.heads]
        self.input_size = input_size
        self.confidence = confidence
        self.nms_iou = nms_iou
        self._class_ids = None if class_ids is None else np.asarray(list(class_ids), dtype=np.int64)

    @property
    def class_names(self) -> tuple[str, ...]:
        """Names of the model's classes, indexed by class id."""
        return self._spec.class_names

    def detect(self, image: BGRImage) -> Detections:
        """Detect objects in one ``(H, W, 3)`` uint8 BGR image.

        Returns:
            Detections with boxes in the image's pixels, clipped to it; empty for an empty image.
        """
        height, width = image.shape[:2]
        if height == 0 or width == 0:
            return Detections.empty()
        blob = image_to_blob(image, self.input_size)
        raws = self._session.run(self._outputs, {self._spec.input_name: blob})
        candidates = decode_heads(raws, self._spec.heads, self.input_size, self.input_size, self.confidence)
        return to_detections(candidates, width, height, self.nms_iou, self._class_ids)
