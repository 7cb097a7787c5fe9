"""Optional plate detector: the YOLOv8s-seg network of the ``platedet`` wheel (AGPL-3.0).

Vigil is Apache-2.0 and never installs or runs this model unless the operator asks for it
(``vigil models install platedet`` and ``plates.localiser: platedet``); see docs/plates.md.
Only its boxes are used: the segmentation head (mask coefficients and prototypes) is ignored,
because the reader deskews the character line itself.

The runtime sees only tensors: this module letterboxes a BGR frame into the network's 640×640
input (grey padding 114, colour order as the wheel's own code feeds it: BGR) and turns
its ``(1, 4 + classes + 32, anchors)`` output back into frame-pixel boxes. The session comes
from the caller (``workers`` and ``cli`` compose it), so this package needs no knowledge of
where models live.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import cv2
import numpy as np
from numpy.typing import NDArray

from vigil.core.errors import ModelError
from vigil.core.frame import BGRImage

INPUT_SIDE = 640
MASK_COEFFICIENTS = 32
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
        if len(inputs) != 1 or list(inputs[0].shape[-2:]) != [INPUT_SIDE, INPUT_SIDE]:
            raise ModelError(f"not the platedet network: expected one {INPUT_SIDE}x{INPUT_SIDE} input")
        self._session = session
        self._input = str(inputs[0].name)
        # The wheel's graph takes float16; Vigil's int8 copy of it (converted at install) float32.
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
        return decode(np.asarray(out, dtype=np.float32)[0], scale, pad_x, pad_y, (w, h), self.confidence, self.nms_iou)


def letterbox(image: BGRImage) -> tuple[NDArray[np.float32], float, float, float]:
    """``image`` scaled into the square input keeping its aspect, centred on grey padding.

    Returns the ``(1, 3, 640, 640)`` float32 tensor in [0, 1], the scale, and the left and top
    padding (input pixels), which :func:`decode` needs to map boxes back.
    """
    h, w = image.shape[:2]
    scale = min(INPUT_SIDE / h, INPUT_SIDE / w)
    nw, nh = round(w * scale), round(h * scale)
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


def decode(
    raw: NDArray[np.float32],
    scale: float,
    pad_x: float,
    pad_y: float,
    frame_size: tuple[int, int],
    confidence: float,
    nms_iou: float,
) -> list[PlateBox]:
    """Boxes from the network's ``(4 + classes + 32, anchors)`` output, in frame pixels, best first.

    Rows 0–3 are box centre and size in input pixels, then one score per class, then the mask
    coefficients (ignored).
    """
    if raw.ndim != 2 or raw.shape[0] <= 4 + MASK_COEFFICIENTS:
        raise ModelError(f"platedet output has shape {raw.shape}; expected (4 + classes + 32, anchors)")
    anchors = raw.T
    scores = anchors[:, 4:-MASK_COEFFICIENTS].max(axis=1)
    keep = scores > confidence
    if not keep.any():
        return []
    cxcywh, scores = anchors[keep, :4], scores[keep]
    xywh = np.c_[cxcywh[:, :2] - cxcywh[:, 2:] / 2, cxcywh[:, 2:]]
    chosen = np.asarray(cv2.dnn.NMSBoxes(xywh.tolist(), scores.tolist(), confidence, nms_iou)).reshape(-1)
    fw, fh = frame_size
    out: list[PlateBox] = []
    for i in chosen:
        x, y, bw, bh = (float(v) for v in xywh[i])
        x1 = min(max((x - pad_x) / scale, 0.0), float(fw))
        y1 = min(max((y - pad_y) / scale, 0.0), float(fh))
        x2 = min(max((x + bw - pad_x) / scale, 0.0), float(fw))
        y2 = min(max((y + bh - pad_y) / scale, 0.0), float(fh))
        if x2 - x1 >= 2 and y2 - y1 >= 2:
            out.append(PlateBox((x1, y1, x2, y2), float(scores[i])))
    return sorted(out, key=lambda b: -b.score)
