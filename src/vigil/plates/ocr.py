"""rapidocr (PP-OCR on ONNX Runtime) behind a small interface: recognise a line, find text lines.

rapidocr 3.10 keeps ``use_det``/``use_cls``/``use_rec`` from the previous call, so every call
here passes all three. Its ONNX models ship inside its wheel; nothing is downloaded.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import cv2
import numpy as np
from numpy.typing import NDArray

from vigil.core.errors import ModelError
from vigil.core.frame import BGRImage
from vigil.core.onnx_session import make_session
from vigil.core.openvino_session import OpenVinoSession, RuntimeChoice
from vigil.plates.ctc import PlateFold, StepSummary, TextLine, decode_greedy, plate_fold, summarise

log = logging.getLogger(__name__)

Quad = NDArray[np.float32]
"""Four corners ``(4, 2)`` of a text line, clockwise from top-left."""

Box = tuple[float, float, float, float]


class TextRecogniser(Protocol):
    """What the plate reader needs of an OCR engine (real: :class:`RapidTextEngine`)."""

    def recognise(self, image: BGRImage) -> TextLine:
        """Read one text line filling ``image``."""
        ...

    def detect_lines(self, image: BGRImage) -> list[Quad]:
        """Text lines in ``image`` as quadrilaterals (pixels of ``image``)."""
        ...


@runtime_checkable
class SceneTextEngine(Protocol):
    """Optional extras of an OCR engine: text lines of a whole scene, and batched recognition."""

    def detect_scene_lines(self, image: BGRImage, max_side: int | None = None, seeds: Sequence[Box] = ()) -> list[Quad]:
        """Text lines of a whole frame, found at a resolution fit for small plates (or at up to
        ``max_side`` pixels on the long side where the caller asks for a cheaper pass). ``seeds``:
        regions (pixels of ``image``) a cheaper localiser already suspects of holding a plate;
        an engine that looks only where text can be looks there too."""
        ...

    def recognise_many(self, images: list[BGRImage]) -> list[TextLine]:
        """Read several text lines in one call (same order as ``images``)."""
        ...


OCR_SPIN = False
"""Whether the PP-OCR sessions' idle intra-op threads spin (ONNX Runtime's and rapidocr's default).

Off: a scene runs the text detector, the recogniser and the CCT graphs one after another, each
with its own thread pool, on cores other stages and cameras share; a pool that spins after its
run takes the cores the next one needs. Same boxes and reads either way
(``bench/plates_reader_speed.py``, docs/plates.md)."""


SCENE_COARSE = 0.0
"""Off (0): the scene text detector reads the whole frame at its side. Tried (``> 0``): the detector
first runs over the whole frame at this fraction of its side, and the full-resolution pass only
where that coarse pass, or the caller's ``seeds``, saw text. With narrow windows a scene took 0.75
of its time but lost plates (85 scenes: 76 → 71 exact); with windows wide enough for the boxes
not to move (``SCENE_COARSE_MARGIN`` 128) it saved nothing (0.97) and still lost 4 of 222
(docs/plates.md, ``bench/plates_scene_coarse.py``). So it stays off."""

SCENE_COARSE_THRESHOLD = 0.01
"""A coarse-pass pixel whose text probability exceeds this marks a region for the full pass (far
below the detector's own 0.3: at a quarter of the pixels a small plate's characters barely
register, but they do register)."""

SCENE_COARSE_GROW = 3.0
"""Each marked region (and seed) is widened by this many of its own heights on every side before
the full pass reads it: the full pass needs the plate's surroundings as context, and the coarse
pass sees only part of a small plate's characters."""

SCENE_SEED_GROW = 1.0
"""A seed (a morphological row: the characters themselves) is widened by this many of its heights."""

SCENE_COARSE_MARGIN = 128
"""...and by at least this many pixels of the full pass's input: the detector's boxes near a
window's edge depend on the context beyond it (a line 30–60 px from the edge came out several
pixels larger, and was read differently)."""

SCENE_COARSE_MAX_AREA = 0.6
"""Where the regions cover at least this share of the frame, one pass over the whole frame is
cheaper than several over its parts."""


def _own_session(holder: Any, threads: int, spin: bool) -> None:
    """Replace the ONNX Runtime session inside rapidocr's ``holder`` (its detector or recogniser)
    by one from :func:`make_session`: the CPU memory arena on (rapidocr turns it off: every run
    of a 960-px frame then allocates its activations afresh) and spinning as ``spin`` says. Same
    graph, same numbers."""
    inner = holder.session  # rapidocr's OrtInferSession
    path = Path(inner.session._model_path)  # the file rapidocr opened (its own wheel's model)
    inner.session = make_session(path, threads, spin=spin)


class RapidTextEngine:
    """rapidocr's PP-OCRv6 detector and recogniser, sharing one ONNX Runtime thread budget."""

    def __init__(
        self,
        threads: int = 2,
        det_max_side: int = 320,
        scene_det_max_side: int = 960,
        *,
        own_sessions: bool = True,
        spin: bool | None = None,
        coarse: float | None = SCENE_COARSE,
        detector_runtime: RuntimeChoice | None = None,
    ) -> None:
        self._threads = threads
        # None or ONNX Runtime: the detector's session as rapidocr (or _own_session) makes it;
        # OpenVINO: the same graph compiled by OpenVINO (vigil.core.openvino_session).
        self._detector_runtime = detector_runtime
        # None: rapidocr's own pipeline for the scene pass, one engine per side (the reader until
        # 2026-12-07); 0: Vigil's own single full pass; > 0: the coarse pass first (see
        # SCENE_COARSE). bench/plates_scene_coarse.py compares them in one process.
        self._coarse = coarse if own_sessions else None
        self._lut: NDArray[np.float32] | None = None
        self.coarse_threshold = SCENE_COARSE_THRESHOLD
        self.coarse_grow = SCENE_COARSE_GROW
        self.seed_grow = SCENE_SEED_GROW
        self.coarse_margin = SCENE_COARSE_MARGIN
        # own_sessions False keeps rapidocr's sessions as it makes them (the reader before
        # 2026-12-06; bench/plates_reader_speed.py compares the two in one process).
        self._own = own_sessions
        self._spin = OCR_SPIN if spin is None else spin
        self._scene_side = scene_det_max_side
        self._engine: Any = self._make(det_max_side)
        self._scene_engines: dict[int, Any] = {}
        self._charset: list[str] = []
        self._fold: PlateFold | None = None
        # One engine serves several cameras; rapidocr mutates its flags per call.
        self._lock = threading.Lock()

    def _make(self, det_max_side: int) -> Any:
        try:
            from rapidocr import RapidOCR  # heavy: loads ONNX Runtime sessions lazily

            engine: Any = RapidOCR(
                params={
                    "Global.log_level": "error",
                    "Global.use_cls": False,
                    "Global.text_score": 0.0,
                    "Det.limit_side_len": det_max_side,
                    "Det.limit_type": "max",
                    "EngineConfig.onnxruntime.intra_op_num_threads": self._threads,
                    "EngineConfig.onnxruntime.inter_op_num_threads": 1,
                }
            )
            if self._own:
                _own_session(engine._load_det_model(), self._threads, self._spin)
            choice = self._detector_runtime
            if choice is not None and choice.runtime == "openvino":
                det = engine._load_det_model()
                path = Path(det.session.session._model_path)
                det.session = OpenVinoSession(path, self._threads, choice.precision)
        except ModelError:
            raise
        except Exception as exc:  # rapidocr raises plain Exceptions on bad model files
            raise ModelError(f"rapidocr could not load its models: {exc}") from exc
        return engine

    @property
    def scene_side(self) -> int:
        """The long side (pixels) the scene text detector reads a frame at, unless told otherwise."""
        return self._scene_side

    def recognise(self, image: BGRImage) -> TextLine:
        return self.recognise_many([image])[0]

    def detect_lines(self, image: BGRImage) -> list[Quad]:
        with self._lock:
            out = self._engine(image, use_det=True, use_cls=False, use_rec=False)
        boxes = getattr(out, "boxes", None)
        if boxes is None or len(boxes) == 0:
            return []
        return [np.asarray(b, dtype=np.float32).reshape(4, 2) for b in boxes]

    def detect_scene_lines(self, image: BGRImage, max_side: int | None = None, seeds: Sequence[Box] = ()) -> list[Quad]:
        """Text lines of a whole frame, the detector run at up to ``scene_det_max_side`` pixels
        (or ``max_side``), first coarsely over the whole frame and then at that side only where
        the coarse pass or ``seeds`` saw text (:data:`SCENE_COARSE_SIDE`)."""
        side = self._scene_side if max_side is None else max_side
        h, w = image.shape[:2]
        # rapidocr resizes frames outside these bounds (and pads very wide ones) before its
        # detector: such frames keep its pipeline, so that the boxes are the same.
        plain = min(h, w) > 30 and max(h, w) <= 2000 and w / h <= 8
        if self._coarse is not None and plain:
            with self._lock:
                det = self._engine._load_det_model()
                return self._scene_pass(det, image, side, seeds)
        with self._lock:
            engine = self._scene_engines.get(side)
            if engine is None:
                engine = self._scene_engines[side] = self._make(side)
            out = engine(image, use_det=True, use_cls=False, use_rec=False)
        boxes = getattr(out, "boxes", None)
        if boxes is None or len(boxes) == 0:
            return []
        return [np.asarray(b, dtype=np.float32).reshape(4, 2) for b in boxes]

    def _det_input(self, det: Any, image: BGRImage, side: int) -> NDArray[np.float32] | None:
        """``image`` resized and normalised exactly as rapidocr's detector preprocessing does
        (the same sizes, the same float32 values), by a lookup table instead of float64 arithmetic
        over the whole frame."""
        h, w = image.shape[:2]
        ratio = side / max(h, w) if max(h, w) > side else 1.0
        rh, rw = round(int(h * ratio) / 32) * 32, round(int(w * ratio) / 32) * 32
        if rh <= 0 or rw <= 0:
            return None
        resized = cv2.resize(image, (rw, rh))
        if self._lut is None:
            from rapidocr.ch_ppocr_det.utils import DetPreProcess

            levels = np.repeat(np.arange(256, dtype=np.uint8).reshape(1, 256, 1), 3, axis=2)
            table = DetPreProcess(side, "max", det.mean, det.std).normalize(levels)
            self._lut = np.ascontiguousarray(table[0].T.astype(np.float32))  # (3, 256)
        lut = self._lut
        return np.stack([lut[c][resized[:, :, c]] for c in range(3)])[np.newaxis]

    def _lines_of(self, det: Any, x: NDArray[np.float32], shape: tuple[int, int]) -> NDArray[np.float32]:
        """The detector's boxes for input ``x``, in pixels of an image of ``shape`` (h, w)."""
        boxes, _ = det.postprocess_op(det.session(x), shape)
        return np.asarray(boxes, dtype=np.float32).reshape(-1, 4, 2)

    def _scene_pass(self, det: Any, image: BGRImage, side: int, seeds: Sequence[Box]) -> list[Quad]:
        h, w = image.shape[:2]
        x = self._det_input(det, image, side)
        if x is None:
            return []
        rh, rw = x.shape[2:]
        windows = self._windows(det, image, (rh, rw), round(self._coarse * side), seeds) if self._coarse else None
        if windows is None:
            found = self._lines_of(det, x, (h, w))
        else:
            parts = [np.zeros((0, 4, 2), np.float32)]
            fx, fy = rw / w, rh / h
            for x1, y1, x2, y2 in windows:
                part = np.ascontiguousarray(x[:, :, y1:y2, x1:x2])
                quads = self._lines_of(det, part, (round((y2 - y1) / fy), round((x2 - x1) / fx)))
                parts.append(quads + np.array([x1 / fx, y1 / fy], np.float32))
            found = np.concatenate(parts)
        if len(found) == 0:
            return []
        return [np.asarray(q, dtype=np.float32) for q in det.sorted_boxes(found)]

    def _windows(
        self, det: Any, image: BGRImage, full: tuple[int, int], side: int, seeds: Sequence[Box]
    ) -> list[tuple[int, int, int, int]] | None:
        """Where the full pass should look, as windows of its input (multiples of 32 px), or None
        where one pass over the whole frame is cheaper (:data:`SCENE_COARSE_MAX_AREA`). The coarse
        pass runs at ``side`` pixels on the long side."""
        h, w = image.shape[:2]
        rh, rw = full
        coarse = self._det_input(det, image, side)
        if coarse is None:
            return None
        prob = det.session(coarse)[0, 0]
        ch, cw = prob.shape
        marked = (prob > self.coarse_threshold).astype(np.uint8)
        n, _, stats, _ = cv2.connectedComponentsWithStats(marked)
        regions = [(box, self.seed_grow) for box in seeds]
        sx, sy = w / cw, h / ch
        for i in range(1, n):
            x, y, bw, bh = (int(v) for v in stats[i][:4])
            regions.append(((x * sx, y * sy, (x + bw) * sx, (y + bh) * sy), self.coarse_grow))
        cells = np.zeros(((rh + 31) // 32, (rw + 31) // 32), np.uint8)
        fx, fy = rw / w, rh / h
        for (x1, y1, x2, y2), times in regions:
            gx = max(times * max(y2 - y1, sy) * fx, self.coarse_margin)  # in full-input pixels
            gy = max(times * max(y2 - y1, sy) * fy, self.coarse_margin)
            cx1 = max(0, int(x1 * fx - gx) // 32)
            cy1 = max(0, int(y1 * fy - gy) // 32)
            cx2 = min(cells.shape[1], -(-int(x2 * fx + gx) // 32))
            cy2 = min(cells.shape[0], -(-int(y2 * fy + gy) // 32))
            cells[cy1:cy2, cx1:cx2] = 1
        if cells.sum() >= SCENE_COARSE_MAX_AREA * cells.size:
            return None
        n, _, stats, _ = cv2.connectedComponentsWithStats(cells, connectivity=8)
        rects = [[int(v) for v in stats[i][:4]] for i in range(1, n)]
        rects = [[x, y, x + bw, y + bh] for x, y, bw, bh in rects]
        merged = True
        while merged:  # components whose bounding rectangles overlap become one window
            merged = False
            for i in range(len(rects)):
                for j in range(i + 1, len(rects)):
                    a, b = rects[i], rects[j]
                    if a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]:
                        rects[i] = [min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])]
                        del rects[j]
                        merged = True
                        break
                if merged:
                    break
        return [(32 * x1, 32 * y1, min(rw, 32 * x2), min(rh, 32 * y2)) for x1, y1, x2, y2 in rects]

    def recognise_many(self, images: list[BGRImage]) -> list[TextLine]:
        """Read several lines in one batched pass of rapidocr's recogniser, decoded here.

        rapidocr's preprocessing (height 48, width by the batch's widest aspect) and batching
        (lines sorted by width, 6 at a time) are reused; the decoding is ours
        (:func:`vigil.plates.ctc.decode_greedy`) so each character keeps its alternatives.
        """
        if not images:
            return []
        with self._lock:
            rec = self._engine._load_rec_model()
            if self._fold is None:
                if self._own:
                    _own_session(rec, self._threads, self._spin)
                self._charset = list(rec.postprocess_op.character)
                self._fold = plate_fold(self._charset)
            _, height, width = rec.rec_image_shape
            order = sorted(range(len(images)), key=lambda i: images[i].shape[1] / max(1, images[i].shape[0]))
            out: list[TextLine | None] = [None] * len(images)
            for start in range(0, len(order), rec.rec_batch_num):
                chunk = order[start : start + rec.rec_batch_num]
                ratio = max([width / height] + [images[i].shape[1] / max(1, images[i].shape[0]) for i in chunk])
                batch = np.concatenate([rec.resize_norm_img(images[i], ratio)[np.newaxis] for i in chunk])
                for i, steps in zip(chunk, self._run_batch(rec, batch.astype(np.float32)), strict=True):
                    out[i] = decode_greedy(steps, self._charset, self._fold)
        return [line if line is not None else TextLine("", 0.0) for line in out]

    def _run_batch(self, rec: Any, batch: NDArray[np.float32]) -> list[StepSummary]:
        assert self._fold is not None
        probs = rec.session(batch)
        return [summarise(p, self._fold) for p in probs]
