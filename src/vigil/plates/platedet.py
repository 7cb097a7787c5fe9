"""Optional plate detector: the YOLOv8s-seg network of the ``platedet`` wheel (AGPL-3.0).

Vigil is Apache-2.0 and never installs or runs this model unless the operator asks for it
(``vigil models install platedet`` and ``plates.localiser: platedet``); see docs/plates.md.
Only its boxes are used: the segmentation head (mask coefficients and prototypes) is cut off at
install time (:mod:`vigil.models.platedet_graph`), because the reader deskews the character line
itself.

The runtime sees only tensors: this module letterboxes a BGR frame into the 640×640 input (grey
padding 114, colour order as the wheel's own code feeds it: BGR) and decodes the head's raw
``(1, 64 + classes, anchors)`` output into frame-pixel boxes: per anchor, four 16-bin
distributions of the distance from the anchor to each box side, in stride units, then one logit
per class. The session comes from the caller (``workers`` and ``cli`` compose it), so this
package needs no knowledge of where models live.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol

import cv2
import numpy as np
from numpy.typing import NDArray

from vigil.core.errors import ModelError
from vigil.core.frame import BGRImage

INPUT_SIDE = 640
"""The side of the square network input, as the wheel was trained and fed."""
STRIDES = (8, 16, 32)
"""Downsampling of the head's three levels; input sides must be multiples of the last."""
DFL_BINS = 16
"""Bins of each box-side distance distribution (YOLOv8's distribution focal loss head)."""
PAD_VALUE = 114


class TensorSession(Protocol):
    """What is needed of an ONNX Runtime ``InferenceSession``."""

    def run(self, output_names: Any, input_feed: dict[str, Any]) -> list[Any]: ...

    def get_inputs(self) -> list[Any]: ...


@dataclass(frozen=True, slots=True)
class PlateBox:
    """One detected plate: ``(x1, y1, x2, y2)`` in frame pixels and the detector's score."""

    box: tuple[float, float, float, float]
    score: float


class PlateDetector:
    """Plate boxes in a frame, best first.

    Args:
        session: ONNX Runtime session of ``platedet.onnx``.
        confidence: least class score of a kept box.
        nms_iou: boxes overlapping a better one by more than this are dropped.
    """

    def __init__(self, session: TensorSession, confidence: float = 0.25, nms_iou: float = 0.45) -> None:
        if not 0.0 < confidence < 1.0:
            raise ValueError(f"confidence must be in (0, 1), got {confidence}")
        inputs = session.get_inputs()
        if len(inputs) != 1 or len(inputs[0].shape) != 4 or any(isinstance(d, int) for d in inputs[0].shape[-2:]):
            raise ModelError(
                "not Vigil's platedet graph (expected one input of free height and width); "
                "run: vigil models install platedet"
            )
        self._session = session
        self._input = str(inputs[0].name)
        # The wheel's graph takes float16; a float32 copy would take float32.
        self._dtype = np.float16 if "float16" in str(inputs[0].type) else np.float32
        self.confidence = confidence
        self.nms_iou = nms_iou

    def detect(self, image: BGRImage) -> list[PlateBox]:
        """Plate boxes in ``image`` (BGR, ``(H, W, 3)`` uint8), best first."""
        h, w = image.shape[:2]
        if h < 2 or w < 2:
            return []
        tensor, scale, pad_x, pad_y = letterbox(image)
        out = self._session.run(None, {self._input: tensor.astype(self._dtype)})[0]
        raw = np.asarray(out, dtype=np.float32)[0]
        return decode(raw, tensor.shape[2:], scale, pad_x, pad_y, (w, h), self.confidence, self.nms_iou)


def letterbox(image: BGRImage) -> tuple[NDArray[np.float32], float, float, float]:
    """``image`` scaled into the square 640×640 input keeping its aspect, centred on grey padding.

    The graph takes any multiple of 32, and padding a 1280×720 frame only to 640×384 would run the
    network in 0.57× the time; but the scores then change where the padding was the network's
    context, and on the 222 US scenes that lost a plate and three exact reads (196 → 193,
    docs/plates.md). The square input reads exactly as the wheel's own graph does.

    Returns the ``(1, 3, 640, 640)`` float32 tensor in [0, 1], the scale, and the left and top
    padding (input pixels), which :func:`decode` needs to map boxes back.
    """
    h, w = image.shape[:2]
    scale = min(INPUT_SIDE / h, INPUT_SIDE / w)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    pad_x, pad_y = (INPUT_SIDE - nw) / 2, (INPUT_SIDE - nh) / 2
    resized = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR)
    top, left = round(pad_y - 0.1), round(pad_x - 0.1)
    padded = cv2.copyMakeBorder(
        resized,
        top,
        INPUT_SIDE - nh - top,
        left,
        INPUT_SIDE - nw - left,
        cv2.BORDER_CONSTANT,
        value=(PAD_VALUE, PAD_VALUE, PAD_VALUE),
    )
    tensor = (np.ascontiguousarray(padded.transpose(2, 0, 1))[np.newaxis] / 255.0).astype(np.float32)
    return tensor, scale, float(left), float(top)


@cache
def anchor_grid(height: int, width: int) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Anchor centres ``(N, 2)`` (x, y in stride units) and strides ``(N,)`` of an input size,
    level by level, each level row by row: the order of the head's output."""
    points: list[NDArray[np.float32]] = []
    strides: list[NDArray[np.float32]] = []
    for stride in STRIDES:
        gy, gx = np.meshgrid(np.arange(height // stride) + 0.5, np.arange(width // stride) + 0.5, indexing="ij")
        points.append(np.stack([gx.ravel(), gy.ravel()], axis=1).astype(np.float32))
        strides.append(np.full(gx.size, stride, np.float32))
    return np.concatenate(points), np.concatenate(strides)


def decode(
    raw: NDArray[np.float32],
    input_size: tuple[int, ...],
    scale: float,
    pad_x: float,
    pad_y: float,
    frame_size: tuple[int, int],
    confidence: float,
    nms_iou: float,
) -> list[PlateBox]:
    """Boxes from the head's raw ``(64 + classes, anchors)`` output for an input of
    ``input_size`` = (height, width), in frame pixels, best first.

    Only anchors whose best class clears ``confidence`` are decoded: each side's distance is the
    expectation of its 16-bin softmax, times the level's stride.
    """
    height, width = int(input_size[0]), int(input_size[1])
    points, strides = anchor_grid(height, width)
    if raw.ndim != 2 or raw.shape[0] <= 4 * DFL_BINS or raw.shape[1] != len(points):
        raise ModelError(
            f"platedet output has shape {raw.shape}; expected ({4 * DFL_BINS} + classes, {len(points)}) "
            f"for a {width}x{height} input"
        )
    logits = raw[4 * DFL_BINS :].max(axis=0)
    keep = np.flatnonzero(logits > np.log(confidence / (1.0 - confidence)))  # sigmoid(logit) > confidence
    if keep.size == 0:
        return []
    scores = 1.0 / (1.0 + np.exp(-logits[keep]))
    bins = raw[: 4 * DFL_BINS, keep].reshape(4, DFL_BINS, -1)
    bins = np.exp(bins - bins.max(axis=1, keepdims=True))
    sides = (bins * np.arange(DFL_BINS, dtype=np.float32)[:, np.newaxis]).sum(axis=1) / bins.sum(axis=1)
    centre, stride = points[keep].T, strides[keep]
    x1, y1 = (centre - sides[:2]) * stride
    x2, y2 = (centre + sides[2:]) * stride
    xywh = np.stack([x1, y1, x2 - x1, y2 - y1], axis=1)
    chosen = np.asarray(cv2.dnn.NMSBoxes(xywh.tolist(), scores.tolist(), confidence, nms_iou)).reshape(-1)
    fw, fh = frame_size
    out: list[PlateBox] = []
    for i in chosen:
        bx1 = min(max((float(x1[i]) - pad_x) / scale, 0.0), float(fw))
        by1 = min(max((float(y1[i]) - pad_y) / scale, 0.0), float(fh))
        bx2 = min(max((float(x2[i]) - pad_x) / scale, 0.0), float(fw))
        by2 = min(max((float(y2[i]) - pad_y) / scale, 0.0), float(fh))
        if bx2 - bx1 >= 2 and by2 - by1 >= 2:
            out.append(PlateBox((bx1, by1, bx2, by2), float(scores[i])))
    return sorted(out, key=lambda b: -b.score)
