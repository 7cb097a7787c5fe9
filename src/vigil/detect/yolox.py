"""YOLOX (Megvii's ONNX export, no decoding in the graph) on ONNX Runtime.

The graph is checked against the decoder when it is loaded (input side, one output of the
expected grid rows and class columns, checked by a real forward pass), so a wrong file or an
input size the graph does not take stops the start-up with one line instead of failing or
silently mis-decoding mid-stream.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from vigil.core.classes import COCO_NAMES
from vigil.core.detections import Detections
from vigil.core.errors import ModelError
from vigil.core.frame import BGRImage
from vigil.detect.onnx_session import make_session
from vigil.detect.yolo import check_detector_args
from vigil.detect.yolo_decode import Candidates, to_detections
from vigil.detect.yolox_decode import YOLOX_STRIDES, decode_yolox, expected_rows

PAD_VALUE = 114
"""Grey of the letterbox border, as YOLOX was trained (``yolox.data.data_augment.preproc``)."""


def letterbox(image: BGRImage, input_size: int, shrink: float = 1.0) -> tuple[NDArray[np.float32], float]:
    """YOLOX input: keep the aspect ratio, paste at the top-left of a grey square, BGR, 0-255.

    Args:
        image: ``(H, W, 3)`` uint8 BGR.
        input_size: network input side S.
        shrink: the image fills this share of the side that limits it (1: all of it).

    Returns:
        The ``(1, 3, S, S)`` float32 blob and the scale ``r = shrink * min(S / H, S / W)`` applied.
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 BGR image, got {image.shape} {image.dtype}")
    height, width = image.shape[:2]
    scale = shrink * min(input_size / height, input_size / width)
    new_w, new_h = max(1, int(width * scale)), max(1, int(height * scale))
    canvas = np.full((input_size, input_size, 3), PAD_VALUE, dtype=np.uint8)
    canvas[:new_h, :new_w] = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    return canvas.transpose(2, 0, 1)[None].astype(np.float32), scale


class YoloxDetector:
    """A YOLOX COCO model (e.g. YOLOX-Nano) on ONNX Runtime's CPU provider.

    Args:
        model_path: the ``.onnx`` file (or a directory holding exactly one).
        input_size: square network input side; must be what the graph takes (416 for YOLOX-Nano).
        confidence: minimum objectness x class probability.
        nms_iou: class-wise NMS IoU threshold.
        class_ids: COCO class ids to keep; None keeps all.
        threads: ONNX Runtime intra-op threads.

    Raises:
        ModelError: the file is missing or unloadable, takes another input size, or its output
            is not the YOLOX rows for this input size and the 80 COCO classes.
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
        inputs, outputs = self._session.get_inputs(), self._session.get_outputs()
        if len(inputs) != 1 or len(inputs[0].shape) != 4:
            shapes = [i.shape for i in inputs]
            raise ModelError(f"{path.name}: the yolox decoder needs one [1, 3, S, S] input, the graph takes {shapes}")
        if len(outputs) != 1:
            raise ModelError(
                f"{path.name}: the yolox decoder needs one [1, rows, 85] output, "
                f"the graph has {len(outputs)} ({', '.join(o.name for o in outputs)})"
            )
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
        self._check_output(path)

    def _check_output(self, path: Path) -> None:
        blob = np.full((1, 3, self.input_size, self.input_size), PAD_VALUE, dtype=np.float32)
        try:
            (out,) = self._session.run(None, {self._input: blob})
        except Exception as exc:  # ONNX Runtime's own exception types
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(
                f"{path.name}: a forward pass at {self.input_size}x{self.input_size} failed ({first})"
            ) from exc
        want = (1, expected_rows(self.input_size), 5 + len(COCO_NAMES))
        got = tuple(np.asarray(out).shape)
        if got != want:
            strides = "/".join(map(str, YOLOX_STRIDES))
            raise ModelError(
                f"{path.name}: output is {list(got)}, the yolox decoder needs {list(want)} "
                f"(one row per stride-{strides} cell at {self.input_size} px; box, objectness, 80 COCO classes)"
            )

    @property
    def class_names(self) -> tuple[str, ...]:
        """Names of the model's classes, indexed by class id (COCO)."""
        return COCO_NAMES

    def detect(self, image: BGRImage) -> Detections:
        """Detect objects in one ``(H, W, 3)`` uint8 BGR image.

        Returns:
            Detections with boxes in the image's pixels, clipped to it; empty for an empty image.
        """
        height, width = image.shape[:2]
        if height == 0 or width == 0:
            return Detections.empty()
        candidates = self.candidates(image)
        return to_detections(candidates, width, height, self.nms_iou, self._class_ids)

    def candidates(self, image: BGRImage, shrink: float = 1.0) -> Candidates:
        """One forward pass: the image letterboxed at ``shrink`` of the input, decoded, before NMS.

        ``shrink`` < 1 is for measuring (``bench/large_object_pass.py``: a second, shrunk look at
        frames holding a frame-sized object did not pay on held-out close-ups, so detect() does not).
        """
        height, width = image.shape[:2]
        blob, scale = letterbox(image, self.input_size, shrink)
        (out,) = self._session.run(None, {self._input: blob})
        rows = np.asarray(out, dtype=np.float32)[0]
        return decode_yolox(rows, self.input_size, scale, width, height, self.confidence)


def onnx_file(model_path: Path) -> Path:
    """``model_path`` itself, or the one ``.onnx`` file in it when it is a directory."""
    if not model_path.is_dir():
        return model_path
    found = sorted(model_path.glob("*.onnx"))
    if len(found) != 1:
        raise ModelError(f"{model_path}: expected one .onnx file, found {len(found)}")
    return found[0]
