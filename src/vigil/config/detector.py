"""``detector``: the person and vehicle detector."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import Field, field_validator, model_validator

from vigil.config.base import StrictModel
from vigil.core.classes import COCO_NAMES, DEFAULT_CLASSES

DecoderName = Literal["darknet-yolo", "yolox", "picodet"]
Precision = Literal["int8", "fp32"]
DetectorModelName = Literal["yolov4-tiny", "yolox-nano", "picodet-s-416"]


@dataclass(frozen=True, slots=True)
class DetectorChoice:
    """What Vigil knows of one selectable detector model.

    Attributes:
        decoder: how its outputs are read (the detector checks the graph against it at load).
        files: the graph in the installed model's directory, by precision.
        default_precision: what runs when ``detector.precision`` is not set.
    """

    decoder: DecoderName
    files: dict[str, str]
    default_precision: Precision


DETECTOR_MODELS: dict[str, DetectorChoice] = {
    # int8 by default: quantised at install, ~1.7x faster than fp32 for 98.6% of its boxes.
    "yolov4-tiny": DetectorChoice("darknet-yolo", {"int8": "model-int8.onnx", "fp32": "model.onnx"}, "int8"),
    "yolox-nano": DetectorChoice("yolox", {"fp32": "yolox_nano.onnx"}, "fp32"),
    # Optional (installed only by name): the file's source repository has no licence file.
    "picodet-s-416": DetectorChoice("picodet", {"fp32": "picodet_s_416_coco.onnx"}, "fp32"),
}
"""Every model ``detector.model`` may name (keys match ``DetectorModelName``)."""


class DetectorConfig(StrictModel):
    """The COCO person and vehicle detector on ONNX Runtime."""

    # YOLOX-Nano: more accurate on COCO val (tests/golden/detection.json), ~1.3-2x faster than
    # YOLOv4-tiny int8, and finds the vehicle in 93% of the openalpr close-ups at 0.5 against 63%
    # (bench/detector_thresholds.py); see docs/detectors.md.
    model: DetectorModelName = Field(
        default="yolox-nano",
        description="Installed detector model: yolox-nano (default), yolov4-tiny or picodet-s-416 (optional).",
    )
    input_size: int = Field(default=416, ge=128, le=1280, multiple_of=32, description="Network input, px.")
    confidence: float = Field(default=0.3, gt=0, lt=1, description="Minimum detection score.")
    nms_iou: float = Field(default=0.45, gt=0, lt=1, description="IoU above which boxes are merged.")
    classes: tuple[str, ...] = Field(default=DEFAULT_CLASSES, min_length=1, description="COCO classes kept.")
    threads: int = Field(
        default=2,
        ge=1,
        le=64,
        description="ONNX Runtime intra-op threads per detection. Unset, `vigil run` with several cameras uses 1 "
        "(cameras then detect side by side, one CPU each: ~1.6x more cameras per CPU, bench/cameras_per_box.py).",
    )
    motion_regions: bool = Field(
        default=True,
        description="On frames where the motion gate saw change in part of the view, detect in a crop around "
        "the motion and the live tracks (whole frame every 2 s, and when the crop would be most of it); "
        "yolox-nano only (bench/motion_regions.py).",
    )
    precision: Precision | None = Field(
        default=None,
        description="Graph precision; unset: the model's own default (yolox-nano fp32, the only one it has; "
        "yolov4-tiny int8, quantised at install, ~1.7x faster, 98.6% of fp32 boxes).",
    )

    @property
    def choice(self) -> DetectorChoice:
        return DETECTOR_MODELS[self.model]

    @property
    def resolved_precision(self) -> Precision:
        return self.precision or self.choice.default_precision

    @property
    def model_file(self) -> str:
        return self.choice.files[self.resolved_precision]

    @field_validator("classes")
    @classmethod
    def _known_classes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [c for c in value if c not in COCO_NAMES]
        if unknown:
            raise ValueError(f"unknown class {unknown[0]!r}; allowed: COCO names such as {', '.join(DEFAULT_CLASSES)}")
        return value

    @model_validator(mode="after")
    def _precision_exists(self) -> DetectorConfig:
        files = self.choice.files
        if self.precision is not None and self.precision not in files:
            raise ValueError(
                f"precision {self.precision!r} is not available for {self.model}; allowed: {', '.join(files)}"
            )
        return self
