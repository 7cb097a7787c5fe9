"""rapidocr (PP-OCR on ONNX Runtime) behind a small interface: recognise a line, find text lines.

rapidocr 3.10 keeps ``use_det``/``use_cls``/``use_rec`` from the previous call, so every call
here passes all three. Its ONNX models ship inside its wheel; nothing is downloaded.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from vigil.core.errors import ModelError
from vigil.core.frame import BGRImage
from vigil.core.onnx_session import make_session
from vigil.plates.ctc import PlateFold, StepSummary, TextLine, decode_greedy, plate_fold, summarise

log = logging.getLogger(__name__)

Quad = NDArray[np.float32]
"""Four corners ``(4, 2)`` of a text line, clockwise from top-left."""


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

    def detect_scene_lines(self, image: BGRImage, max_side: int | None = None) -> list[Quad]:
        """Text lines of a whole frame, found at a resolution fit for small plates (or at up to
        ``max_side`` pixels on the long side where the caller asks for a cheaper pass)."""
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
    ) -> None:
        self._threads = threads
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
        except Exception as exc:  # rapidocr raises plain Exceptions on bad model files
            raise ModelError(f"rapidocr could not load its models: {exc}") from exc
        return engine

    def recognise(self, image: BGRImage) -> TextLine:
        return self.recognise_many([image])[0]

    def detect_lines(self, image: BGRImage) -> list[Quad]:
        with self._lock:
            out = self._engine(image, use_det=True, use_cls=False, use_rec=False)
        boxes = getattr(out, "boxes", None)
        if boxes is None or len(boxes) == 0:
            return []
        return [np.asarray(b, dtype=np.float32).reshape(4, 2) for b in boxes]

    def detect_scene_lines(self, image: BGRImage, max_side: int | None = None) -> list[Quad]:
        """Text lines of a whole frame, the detector run at up to ``scene_det_max_side`` pixels
        (or ``max_side``: one more detector session per side asked for)."""
        side = self._scene_side if max_side is None else max_side
        with self._lock:
            engine = self._scene_engines.get(side)
            if engine is None:
                engine = self._scene_engines[side] = self._make(side)
            out = engine(image, use_det=True, use_cls=False, use_rec=False)
        boxes = getattr(out, "boxes", None)
        if boxes is None or len(boxes) == 0:
            return []
        return [np.asarray(b, dtype=np.float32).reshape(4, 2) for b in boxes]

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
