"""Detect → align → gate → embed, for photos (enrolment, calibration) and person head regions.

Everything here lives in memory only: nothing is written. Callers decide what may be kept
(enrolled references and matched probes), and nothing else ever is (ACCOUNTABILITY.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
from numpy.typing import NDArray

from vigil.config.faces import FacesConfig
from vigil.core.errors import InputError
from vigil.faces.detector import YuNetDetector
from vigil.faces.embedder import Embedder, SFaceEmbedder
from vigil.faces.imageio import read_image
from vigil.faces.quality import QualityGate
from vigil.faces.types import FaceDetections, QualityVerdict

BACKGROUND_SHARPNESS_RATIO = 0.15


@dataclass(frozen=True, slots=True)
class FaceResult:
    """One detected face: where, how good, and (when it passed the gate) its embedding."""

    box: tuple[float, float, float, float]
    verdict: QualityVerdict
    aligned: NDArray[np.uint8]
    embedding: NDArray[np.float32] | None


@dataclass(frozen=True, slots=True)
class ReferenceFace:
    """A reference image with exactly one usable face, ready to enrol."""

    source: Path
    image: NDArray[np.uint8]
    face: FaceResult
    embedding: NDArray[np.float32]


class FacePipeline:
    """YuNet + quality gate + an :class:`Embedder`. One instance per thread."""

    def __init__(self, detector: YuNetDetector, embedder: Embedder, cfg: FacesConfig) -> None:
        self.detector = detector
        self.embedder = embedder
        self.cfg = cfg
        self.gate = QualityGate(cfg.quality)

    @classmethod
    def load(cls, yunet_dir: Path, sface_dir: Path, cfg: FacesConfig) -> FacePipeline:
        """YuNet and SFace from their installed model directories."""
        cv2.setNumThreads(cfg.threads)
        detector = YuNetDetector(
            yunet_dir,
            score_threshold=cfg.detector_score,
            coarse_long_side_px=cfg.detect_long_side_px,
            fine_long_side_px=cfg.fine_long_side_px,
        )
        return cls(detector, SFaceEmbedder(sface_dir), cfg)

    def analyse(self, image: NDArray[np.uint8], mode: Literal["photo", "region"] = "photo") -> list[FaceResult]:
        """Every face in ``image``: gated, and embedded when it passed."""
        faces = self.detector.detect_photo(image) if mode == "photo" else self.detector.detect_region(image)
        return self._embed_all(image, faces)

    def _embed_all(self, image: NDArray[np.uint8], faces: FaceDetections) -> list[FaceResult]:
        out: list[FaceResult] = []
        for i in range(len(faces)):
            aligned = self.embedder.align(image, faces, i)
            verdict = self.gate.check(faces, i, image.shape, aligned)
            embedding = self.embedder.embed(aligned) if verdict.passed else None
            x1, y1, x2, y2 = (float(v) for v in faces.boxes[i])
            out.append(FaceResult((x1, y1, x2, y2), verdict, aligned, embedding))
        return out

    def reference(self, path: Path) -> ReferenceFace:
        """Read a reference image and return its one usable face.

        Raises:
            InputError: unreadable, too large, no face, several usable faces, or the only face
                fails the quality gate; the message names the image and what was wrong.
        """
        image = read_image(path, self.cfg.max_image_megapixels)
        results = self.analyse(image, "photo")
        usable = [r for r in results if r.embedding is not None]
        if len(usable) > 1:
            # Faces far blurrier than the sharpest one are out-of-focus background people
            # (depth of field), not a second subject: measured 0.04x on such a portrait.
            sharpest = max(r.verdict.sharpness for r in usable)
            usable = [r for r in usable if r.verdict.sharpness >= BACKGROUND_SHARPNESS_RATIO * sharpest]
        if not results:
            raise InputError(f"{path}: no face found; a reference image must show the subject's face")
        if len(usable) > 1:
            raise InputError(f"{path}: {len(usable)} usable faces found; a reference image must show exactly one face")
        if not usable:
            why = "; ".join(r.verdict.describe() for r in results)
            raise InputError(f"{path}: no usable face ({why})")
        face = usable[0]
        assert face.embedding is not None
        return ReferenceFace(path, image, face, face.embedding)
