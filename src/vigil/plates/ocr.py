"""rapidocr (PP-OCR on ONNX Runtime) behind a small interface: recognise a line, find text lines.

rapidocr 3.10 keeps ``use_det``/``use_cls``/``use_rec`` from the previous call, so every call
here passes all three. Its ONNX models ship inside its wheel; nothing is downloaded.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from vigil.core.errors import ModelError
from vigil.core.frame import BGRImage

log = logging.getLogger(__name__)

Quad = NDArray[np.float32]
"""Four corners ``(4, 2)`` of a text line, clockwise from top-left."""


@dataclass(frozen=True, slots=True)
class TextLine:
    """One recognised line: raw text and the recogniser's mean character confidence."""

    text: str
    confidence: float


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

    def detect_scene_lines(self, image: BGRImage) -> list[Quad]:
        """Text lines of a whole frame, found at a resolution fit for small plates."""
        ...

    def recognise_many(self, images: list[BGRImage]) -> list[TextLine]:
        """Read several text lines in one call (same order as ``images``)."""
        ...


class RapidTextEngine:
    """rapidocr's PP-OCRv6 detector and recogniser, sharing one ONNX Runtime thread budget."""

    def __init__(self, threads: int = 2, det_max_side: int = 320, scene_det_max_side: int = 960) -> None:
        self._threads = threads
        self._scene_side = scene_det_max_side
        self._engine: Any = self._make(det_max_side)
        self._scene_engine: Any = None
        # One engine serves several cameras; rapidocr mutates its flags per call.
        self._lock = threading.Lock()

    def _make(self, det_max_side: int) -> Any:
        try:
            from rapidocr import RapidOCR  # heavy: loads ONNX Runtime sessions lazily

            return RapidOCR(
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
        except Exception as exc:  # rapidocr raises plain Exceptions on bad model files
            raise ModelError(f"rapidocr could not load its models: {exc}") from exc

    def recognise(self, image: BGRImage) -> TextLine:
        with self._lock:
            out = self._engine(image, use_det=False, use_cls=False, use_rec=True)
        txts = getattr(out, "txts", None)
        if not txts:
            return TextLine("", 0.0)
        return TextLine(str(txts[0]), float(out.scores[0]))

    def detect_lines(self, image: BGRImage) -> list[Quad]:
        with self._lock:
            out = self._engine(image, use_det=True, use_cls=False, use_rec=False)
        boxes = getattr(out, "boxes", None)
        if boxes is None or len(boxes) == 0:
            return []
        return [np.asarray(b, dtype=np.float32).reshape(4, 2) for b in boxes]

    def detect_scene_lines(self, image: BGRImage) -> list[Quad]:
        """Text lines of a whole frame, the detector run at up to ``scene_det_max_side`` pixels."""
        with self._lock:
            if self._scene_engine is None:
                self._scene_engine = self._make(self._scene_side)
            out = self._scene_engine(image, use_det=True, use_cls=False, use_rec=False)
        boxes = getattr(out, "boxes", None)
        if boxes is None or len(boxes) == 0:
            return []
        return [np.asarray(b, dtype=np.float32).reshape(4, 2) for b in boxes]

    def recognise_many(self, images: list[BGRImage]) -> list[TextLine]:
        """Read several lines in one batched recognition (rapidocr's recogniser takes a list)."""
        if not images:
            return []
        with self._lock:
            try:
                from rapidocr.ch_ppocr_rec.typings import TextRecInput

                rec = self._engine._load_rec_model()
                out = rec(TextRecInput(img=list(images)))
            except (ImportError, AttributeError):  # another rapidocr layout: one call per line
                out = None
        if out is None:
            return [self.recognise(im) for im in images]
        txts = list(getattr(out, "txts", None) or [])
        scores = list(getattr(out, "scores", None) or [])
        if len(txts) != len(images):
            return [self.recognise(im) for im in images]
        return [TextLine(str(t), float(s)) for t, s in zip(txts, scores, strict=True)]
