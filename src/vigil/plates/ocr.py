"""rapidocr (PP-OCR on ONNX Runtime) behind a small interface: recognise a line, find text lines.

rapidocr 3.10 keeps ``use_det``/``use_cls``/``use_rec`` from the previous call, so every call
here passes all three. Its ONNX models ship inside its wheel; nothing is downloaded.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any, Protocol

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


class RapidTextEngine:
    """rapidocr's PP-OCRv6 detector and recogniser, sharing one ONNX Runtime thread budget."""

    def __init__(self, threads: int = 2, det_max_side: int = 320) -> None:
        try:
            from rapidocr import RapidOCR  # heavy: loads ONNX Runtime sessions lazily

            self._engine: Any = RapidOCR(
                params={
                    "Global.log_level": "error",
                    "Global.use_cls": False,
                    "Global.text_score": 0.0,
                    "Det.limit_side_len": det_max_side,
                    "Det.limit_type": "max",
                    "EngineConfig.onnxruntime.intra_op_num_threads": threads,
                    "EngineConfig.onnxruntime.inter_op_num_threads": 1,
                }
            )
        except Exception as exc:  # rapidocr raises plain Exceptions on bad model files
            raise ModelError(f"rapidocr could not load its models: {exc}") from exc
        # One engine serves several cameras; rapidocr mutates its flags per call.
        self._lock = threading.Lock()

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
