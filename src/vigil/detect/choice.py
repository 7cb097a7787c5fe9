"""Open the detector a model's declared decoder names (``detector.model`` picks the model)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from vigil.config.detector import DecoderName
from vigil.detect.picodet import PicoDetDetector
from vigil.detect.yolo import YoloDetector
from vigil.detect.yolox import YoloxDetector

ObjectDetector = YoloDetector | YoloxDetector | PicoDetDetector
_KINDS: dict[DecoderName, type[ObjectDetector]] = {
    "darknet-yolo": YoloDetector,
    "yolox": YoloxDetector,
    "picodet": PicoDetDetector,
}


def open_detector(
    decoder: DecoderName,
    model_path: Path,
    *,
    input_size: int,
    confidence: float,
    nms_iou: float,
    class_ids: Sequence[int] | None,
    threads: int,
) -> ObjectDetector:
    """Load ``model_path`` with ``decoder``; the detector checks the graph matches it.

    Raises:
        ModelError: the file is missing, unloadable, or its inputs/outputs are not what the
            decoder reads (one line naming the file and the difference).
    """
    return _KINDS[decoder](
        model_path,
        input_size=input_size,
        confidence=confidence,
        nms_iou=nms_iou,
        class_ids=class_ids,
        threads=threads,
    )
