"""YOLOX (Megvii's ONNX export, no decoding in the graph) on ONNX Runtime.

The graph is checked against the decoder when it is loaded (input side, one output of the
expected grid rows and class columns, checked by a real forward pass), so a wrong file or an
input size the graph does not take stops the start-up with one line instead of failing or
silently mis-decoding mid-stream.

YOLOX is fully convolutional (its Focus slices, Resize scales and head Reshapes ``[1, 85, -1]``
do not depend on the input size), but the published export declares ``[1, 3, 416, 416]``. The
graph is opened with its height and width declared free (an in-memory edit, the file is not
changed), so a frame is run at the rectangle its letterbox fills, rounded up to the largest
stride (768x576 -> 416x320, 16:9 -> 416x256) instead of the 416x416 square: the grey rows
below the picture cost convolutions and find nothing. A graph that refuses another size is run
square, as before.
"""

from __future__ import annotations

import logging
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
from vigil.detect.regions import PixelBox
from vigil.detect.yolo import check_detector_args
from vigil.detect.yolo_decode import Candidates, to_detections
from vigil.detect.yolox_decode import YOLOX_STRIDES, InputSize, decode_yolox, expected_rows

log = logging.getLogger(__name__)

PAD_VALUE = 114
"""Grey of the letterbox border, as YOLOX was trained (``yolox.data.data_augment.preproc``)."""


RECT_MULTIPLE = max(YOLOX_STRIDES)
"""A free-size input's sides are multiples of the largest stride (every map has whole cells)."""


def letterbox(
    image: BGRImage, input_size: int, shrink: float = 1.0, *, multiple: int | None = None
) -> tuple[NDArray[np.float32], float]:
    """YOLOX input: keep the aspect ratio, paste at the top-left of a grey canvas, BGR, 0-255.

    Args:
        image: ``(H, W, 3)`` uint8 BGR.
        input_size: network input side S.
        shrink: the image fills this share of the side that limits it (1: all of it).
        multiple: None: the canvas is the ``S x S`` square. Otherwise the canvas is the resized
            image's height and width rounded up to this multiple (at most S): a free-size graph's
            rectangle.

    Returns:
        The ``(1, 3, h, w)`` float32 blob (``h = w = S`` for the square) and the scale
        ``r = shrink * min(S / H, S / W)`` applied.
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 BGR image, got {image.shape} {image.dtype}")
    height, width = image.shape[:2]
    scale = shrink * min(input_size / height, input_size / width)
    new_w, new_h = max(1, int(width * scale)), max(1, int(height * scale))
    if multiple is None:
        canvas_h = canvas_w = input_size
    else:
        canvas_h = min(input_size, -(-new_h // multiple) * multiple)
        canvas_w = min(input_size, -(-new_w // multiple) * multiple)
    canvas = np.full((canvas_h, canvas_w, 3), PAD_VALUE, dtype=np.uint8)
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
        graph, file_input = free_size_graph(path)
        self._session = make_session(path, threads, graph)
        inputs, outputs = self._session.get_inputs(), self._session.get_outputs()
        if len(inputs) != 1 or len(inputs[0].shape) != 4:
            shapes = [i.shape for i in inputs]
            raise ModelError(f"{path.name}: the yolox decoder needs one [1, 3, S, S] input, the graph takes {shapes}")
        if len(outputs) != 1:
            raise ModelError(
                f"{path.name}: the yolox decoder needs one [1, rows, 85] output, "
                f"the graph has {len(outputs)} ({', '.join(o.name for o in outputs)})"
            )
        # The size the file declares (the free-size copy declares none): the model was trained at it.
        declared = file_input if file_input is not None else inputs[0].shape[2:]
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
        self.free_size = graph is not None and self._takes_rectangles()
        """Whether frames run at their letterbox's rectangle (else the ``S x S`` square)."""

    def _takes_rectangles(self) -> bool:
        """A forward pass at a rectangle gives that rectangle's rows (else: run square)."""
        hw = (self.input_size - 2 * RECT_MULTIPLE, self.input_size)
        try:
            (out,) = self._session.run(None, {self._input: np.full((1, 3, *hw), PAD_VALUE, dtype=np.float32)})
        except Exception as exc:  # ONNX Runtime's own exception types
            log.info("yolox graph refuses a %dx%d input (%s); running it square", hw[1], hw[0], type(exc).__name__)
            return False
        return tuple(np.asarray(out).shape) == (1, expected_rows(hw), 5 + len(COCO_NAMES))

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

    def detect_region(self, image: BGRImage, region: PixelBox) -> Detections:
        """Detect in the ``region`` of ``image`` only, as a whole-frame look would see it there
        (:meth:`detect_regions` with one region)."""
        return self.detect_regions(image, (region,))

    def detect_regions(self, image: BGRImage, regions: Sequence[PixelBox]) -> Detections:
        """Detect in the ``regions`` of ``image`` only, as a whole-frame look would see them.

        Each crop is cut from the whole frame's letterboxed input, its edges moved out to the
        largest stride's grid: the network sees the very pixels, on the very cell grid, that it
        sees in a whole-frame look, so an object well inside a crop gets the same box, and the
        cost follows the crops' area (free-size graph). One inference call per crop: crops of
        different sizes would have to be padded to one to share a call, and a batch of frames
        measured no faster per image than one at a time (``bench/detector_batching.py``). Boxes
        from every crop go through one NMS (crops may overlap on the grid), in the whole image's
        pixels. A fixed-size graph detects the whole frame instead (a crop would cost as much).
        """
        height, width = image.shape[:2]
        if not self.free_size or height == 0 or width == 0 or not regions:
            return self.detect(image)
        for x1, y1, x2, y2 in regions:
            if not (0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height):
                raise ValueError(f"region {(x1, y1, x2, y2)} is not inside the {width}x{height} image")
        blob, scale = letterbox(image, self.input_size, multiple=RECT_MULTIPLE)
        found = [self._crop_candidates(blob, region, scale, width, height) for region in regions]
        merged = Candidates(
            cxcywh=np.concatenate([c.cxcywh for c in found]),
            score=np.concatenate([c.score for c in found]),
            class_id=np.concatenate([c.class_id for c in found]),
        )
        return to_detections(merged, width, height, self.nms_iou, self._class_ids)

    def _crop_candidates(
        self, blob: NDArray[np.float32], region: PixelBox, scale: float, width: int, height: int
    ) -> Candidates:
        """One crop of the letterboxed ``blob`` through the network: candidates clipped to the
        crop, normalised to the whole ``width`` x ``height`` image."""
        x1, y1, x2, y2 = region
        step = RECT_MULTIPLE
        left, top = int(x1 * scale) // step * step, int(y1 * scale) // step * step
        right = min(blob.shape[3], -(-int(np.ceil(x2 * scale)) // step) * step)
        bottom = min(blob.shape[2], -(-int(np.ceil(y2 * scale)) // step) * step)
        crop = np.ascontiguousarray(blob[:, :, top:bottom, left:right])
        (out,) = self._session.run(None, {self._input: crop})
        rows = np.asarray(out, dtype=np.float32)[0]
        crop_w, crop_h = right - left, bottom - top
        # Decoded in the crop's input pixels (scale 1), clipped to the crop as a look at the crop
        # alone would be, then moved and scaled to the image.
        found = decode_yolox(rows, (crop_h, crop_w), 1.0, crop_w, crop_h, self.confidence)
        if not found.score.size:
            return found
        size = np.asarray([crop_w, crop_h], dtype=np.float32)
        centre, half = found.cxcywh[:, :2] * size, found.cxcywh[:, 2:] * size / 2
        lo = np.clip(centre - half, 0, size)
        hi = np.clip(centre + half, 0, size)
        offset = np.asarray([left, top], dtype=np.float32)
        per_image = np.asarray([width, height], dtype=np.float32) * np.float32(scale)
        cxcywh = np.concatenate([((lo + hi) / 2 + offset) / per_image, (hi - lo) / per_image], axis=1)
        return Candidates(cxcywh=cxcywh.astype(np.float32), score=found.score, class_id=found.class_id)

    def candidates(self, image: BGRImage, shrink: float = 1.0) -> Candidates:
        """One forward pass: the image letterboxed at ``shrink`` of the input, decoded, before NMS.

        ``shrink`` < 1 is for measuring (``bench/large_object_pass.py``: a second, shrunk look at
        frames holding a frame-sized object did not pay on held-out close-ups, so detect() does not).
        """
        height, width = image.shape[:2]
        # A shrunk look keeps the square: its grey border is part of what was measured.
        multiple = RECT_MULTIPLE if self.free_size and shrink == 1.0 else None
        blob, scale = letterbox(image, self.input_size, shrink, multiple=multiple)
        (out,) = self._session.run(None, {self._input: blob})
        rows = np.asarray(out, dtype=np.float32)[0]
        input_hw: InputSize = (blob.shape[2], blob.shape[3])
        return decode_yolox(rows, input_hw, scale, width, height, self.confidence)


def free_size_graph(path: Path) -> tuple[bytes | None, list[int | str] | None]:
    """The graph with its input's height and width (and so its output's rows) declared free.

    Returns:
        The edited graph's bytes and the file's declared ``[height, width]``; ``(None, None)``
        when the file is not a graph with one 4-D input and one 3-D output (then it is opened
        as it is, and the checks that follow name what is wrong with it).
    """
    # Imported here: the CLI imports this module for its commands' choices, and onnx (protobuf
    # and all) must not load for a command that never opens a detector.
    import onnx

    try:
        model = onnx.load(str(path))
    except Exception:  # onnx's decode errors; make_session then names the unloadable file
        return None, None
    graph = model.graph
    if len(graph.input) != 1 or len(graph.output) != 1:
        return None, None
    in_dims = graph.input[0].type.tensor_type.shape.dim
    out_dims = graph.output[0].type.tensor_type.shape.dim
    if len(in_dims) != 4 or len(out_dims) != 3:
        return None, None
    declared: list[int | str] = [d.dim_value if d.HasField("dim_value") else d.dim_param for d in in_dims[2:]]
    in_dims[2].dim_param, in_dims[3].dim_param = "height", "width"
    out_dims[1].dim_param = "rows"
    # Intermediate shapes inferred at the fixed size would contradict the free input.
    del graph.value_info[:]
    return model.SerializeToString(), declared


def onnx_file(model_path: Path) -> Path:
    """``model_path`` itself, or the one ``.onnx`` file in it when it is a directory."""
    if not model_path.is_dir():
        return model_path
    found = sorted(model_path.glob("*.onnx"))
    if len(found) != 1:
        raise ModelError(f"{model_path}: expected one .onnx file, found {len(found)}")
    return found[0]
