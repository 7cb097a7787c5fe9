"""``detector``: the person and vehicle detector."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from vigil.config.base import StrictModel
from vigil.core.classes import COCO_NAMES, DEFAULT_CLASSES


class DetectorConfig(StrictModel):
    """YOLOv4-tiny (COCO) on ONNX Runtime."""

    model: Literal["yolov4-tiny"] = Field(default="yolov4-tiny", description="Installed model name.")
    input_size: int = Field(default=416, ge=128, le=1280, multiple_of=32, description="Network input, px.")
    confidence: float = Field(default=0.3, gt=0, lt=1, description="Minimum detection score.")
    nms_iou: float = Field(default=0.45, gt=0, lt=1, description="IoU above which boxes are merged.")
    classes: tuple[str, ...] = Field(default=DEFAULT_CLASSES, min_length=1, description="COCO classes kept.")
    threads: int = Field(default=2, ge=1, le=64, description="ONNX Runtime intra-op threads.")
    precision: Literal["int8", "fp32"] = Field(
        default="int8",
        description="int8: the graph quantised at install (~3x faster, 98.6% of fp32 boxes); fp32: exact conversion.",
    )

    @property
    def model_file(self) -> str:
        return "model-int8.onnx" if self.precision == "int8" else "model.onnx"

    @field_validator("classes")
    @classmethod
    def _known_classes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [c for c in value if c not in COCO_NAMES]
        if unknown:
            raise ValueError(f"unknown class {unknown[0]!r}; allowed: COCO names such as {', '.join(DEFAULT_CLASSES)}")
        return value
