"""PP-PicoDet (PaddleDetection's 2021 "legacy" COCO models, paddle2onnx export) on ONNX Runtime.

The graph has no decoding inside: for each of the stride 8, 16, 32 and 64 maps it gives the
class scores ``(1, cells, 80)`` (already through a sigmoid) and the box sides ``(1, cells, 32)``
as 4 x 8 distribution bins (GFL's DFL, ``reg_max`` 7). A cell's anchor point is its centre,
``((col + 0.5) s, (row + 0.5) s)``; each side is the softmax expectation over its bins times
the stride. The input is a plain (stretched) resize, RGB, ImageNet mean and deviation. The
graph is checked against this decoder when it is loaded, as for YOLOX.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from vigil.core.classes import COCO_NAMES
from vigil.core.detections import Detections
from vigil.core.errors import ModelError
from vigil.core.frame import BGRImage
from vigil.core.onnx_session import make_session
from vigil.detect.yolo import check_detector_args
from vigil.detect.yolo_decode import Candidates, to_detections
from vigil.detect.yolox import onnx_file

PICODET_STRIDES = (8, 16, 32, 64)
BINS = 8
_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32) * 255.0
_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32) * 255.0


def picodet_blob(image: BGRImage, input_size: int) -> NDArray[np.float32]:
    """Stretch to ``S x S`` (bicubic, as PaddleDetection's eval reader), RGB, ImageNet-normalised."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 BGR image, got {image.shape} {image.dtype}")
    resized = cv2.resize(image, (input_size, input_size), interpolation=cv2.INTER_CUBIC)
    rgb = cv2.cvtColor(resized, cv2.COLOR_BGR2RGB).astype(np.float32)
    return np.ascontiguousarray(((rgb - _MEAN) / _STD).transpose(2, 0, 1)[None], dtype=np.float32)


def decode_picodet(
    scores: Sequence[NDArray[np.float32]],
    sides: Sequence[NDArray[np.float32]],
    input_size: int,
    confidence: float,
    strides: tuple[int, ...] = PICODET_STRIDES,
) -> Candidates:
    """Decode one image's per-level ``(cells, C)`` scores and ``(cells, 4 * BINS)`` side bins.

    Returns:
        Candidates with centre boxes normalised to the input (= to the image: the resize stretches).
    """
    boxes: list[NDArray[np.float32]] = []
    kept_scores: list[NDArray[np.float32]] = []
    classes: list[NDArray[np.int64]] = []
    bins = np.arange(BINS, dtype=np.float32)
    for level_scores, level_sides, stride in zip(scores, sides, strides, strict=True):
        best = level_scores.max(axis=1)
        cell = np.flatnonzero(best >= confidence)
        if cell.size == 0:
            continue
        class_id = level_scores[cell].argmax(axis=1)
        width = math.ceil(input_size / stride)
        px = ((cell % width) + 0.5) * stride
        py = ((cell // width) + 0.5) * stride
        logits = level_sides[cell].reshape(-1, 4, BINS)
        logits = logits - logits.max(axis=2, keepdims=True)
        weights = np.exp(logits)
        ltrb = (weights @ bins) / weights.sum(axis=2) * stride  # (K, 4): left, top, right, bottom
        x1, y1, x2, y2 = px - ltrb[:, 0], py - ltrb[:, 1], px + ltrb[:, 2], py + ltrb[:, 3]
        boxes.append(
            (np.column_stack([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1]) / input_size).astype(np.float32)
        )
        kept_scores.append(best[cell])
        classes.append(class_id)
    if not boxes:
        return Candidates.empty()
    return Candidates(
        cxcywh=np.concatenate(boxes).astype(np.float32),
        score=np.concatenate(kept_scores).astype(np.float32),
        class_id=np.concatenate(classes).astype(np.int64),
    )


class PicoDetDetector:
    """A PP-PicoDet COCO model (e.g. PicoDet-S 416) on ONNX Runtime's CPU provider.

    Args: as :class:`vigil.detect.yolox.YoloxDetector`.

    Raises:
        ModelError: the file is missing or unloadable, takes another input size, or its outputs
            are not four score maps and four side-bin maps for this input size and 80 classes.
    """

    def __init__(
        self,
        model_path: Path,
        *,
        input_size: int = 416,
        confidence: float = 0.25,
        nms_iou: float = 0.45,
        class_ids: Sequence[int] | None = None,
        threads: int = 1,
    ) -> None:
        check_detector_args(input_size, confidence, nms_iou, threads)
        path = onnx_file(model_path)
        self._session = make_session(path, threads)
        inputs = self._session.get_inputs()
        if len(inputs) != 1 or len(inputs[0].shape) != 4:
            shapes = [i.shape for i in inputs]
            raise ModelError(f"{path.name}: the picodet decoder needs one [1, 3, S, S] input, the graph takes {shapes}")
        declared = inputs[0].shape[2:]
        fixed = [d for d in declared if isinstance(d, int)]
        if any(d != input_size for d in fixed):
            raise ModelError(
                f"{path.name} takes {declared[0]}x{declared[1]} input, detector.input_size is {input_size} "
                f"(allowed for this model: {fixed[0]})"
            )
        self._input = inputs[0].name
        self.input_size = input_size
        self.confidence = confidence
        self.nms_iou = nms_iou
        self._class_ids = None if class_ids is None else np.asarray(list(class_ids), dtype=np.int64)
        self._scores, self._sides = self._check_outputs(path)

    def _check_outputs(self, path: Path) -> tuple[list[str], list[str]]:
        names = [o.name for o in self._session.get_outputs()]
        blob = np.zeros((1, 3, self.input_size, self.input_size), dtype=np.float32)
        try:
            got = self._session.run(names, {self._input: blob})
        except Exception as exc:  # ONNX Runtime's own exception types
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(
                f"{path.name}: a forward pass at {self.input_size}x{self.input_size} failed ({first})"
            ) from exc
        shapes = {name: tuple(np.asarray(v).shape) for name, v in zip(names, got, strict=True)}
        cells = [math.ceil(self.input_size / s) ** 2 for s in PICODET_STRIDES]
        scores = [n for n in names if shapes[n][-1] == len(COCO_NAMES)]
        sides = [n for n in names if shapes[n][-1] == 4 * BINS]
        want_scores = [(1, c, len(COCO_NAMES)) for c in cells]
        want_sides = [(1, c, 4 * BINS) for c in cells]
        if [shapes[n] for n in scores] != want_scores or [shapes[n] for n in sides] != want_sides:
            raise ModelError(
                f"{path.name}: outputs are {[list(shapes[n]) for n in names]}, the picodet decoder needs "
                f"scores {[list(w) for w in want_scores]} and side bins {[list(w) for w in want_sides]} "
                f"(strides {'/'.join(map(str, PICODET_STRIDES))} at {self.input_size} px)"
            )
        return scores, sides

    @property
    def class_names(self) -> tuple[str, ...]:
        """Names of the model's classes, indexed by class id (COCO)."""
        return COCO_NAMES

    def detect(self, image: BGRImage) -> Detections:
        """Detect objects in one ``(H, W, 3)`` uint8 BGR image (boxes in its pixels, clipped)."""
        height, width = image.shape[:2]
        if height == 0 or width == 0:
            return Detections.empty()
        outs = self._session.run(self._scores + self._sides, {self._input: picodet_blob(image, self.input_size)})
        levels = len(self._scores)
        scores = [np.asarray(o, dtype=np.float32)[0] for o in outs[:levels]]
        sides = [np.asarray(o, dtype=np.float32)[0] for o in outs[levels:]]
        candidates = decode_picodet(scores, sides, self.input_size, self.confidence)
        return to_detections(candidates, width, height, self.nms_iou, self._class_ids)
