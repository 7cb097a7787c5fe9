"""Face embedding behind a small interface; SFace (``cv2.FaceRecognizerSF``) is the default."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
from numpy.typing import NDArray

from vigil.core.errors import ModelError
from vigil.faces.types import FaceDetections

SFACE_FILE = "face_recognition_sface_2021dec_int8bq.onnx"


class Embedder(Protocol):
    """Turns a detected face into an L2-normalised vector; cosine similarity compares two."""

    name: str
    dim: int

    def align(self, image: NDArray[np.uint8], faces: FaceDetections, i: int) -> NDArray[np.uint8]:
        """The aligned face crop of face ``i`` (what is embedded, and what a probe crop shows)."""
        ...

    def embed(self, aligned: NDArray[np.uint8]) -> NDArray[np.float32]:
        """(dim,) float32, unit length."""
        ...


class SFaceEmbedder:
    """SFace 128-d (OpenCV Zoo, int8 block-quantised) with OpenCV's 5-point alignment to 112x112."""

    name = "sface-2021dec-int8bq"
    dim = 128

    def __init__(self, model_dir: Path) -> None:
        path = model_dir / SFACE_FILE
        try:
            self._net = cv2.FaceRecognizerSF.create(str(path), "")
        except cv2.error as exc:
            raise ModelError(f"cannot load SFace from {path}: {str(exc).strip().splitlines()[-1]}") from exc

    def align(self, image: NDArray[np.uint8], faces: FaceDetections, i: int) -> NDArray[np.uint8]:
        x1, y1, x2, y2 = faces.boxes[i]
        row = np.concatenate([[x1, y1, x2 - x1, y2 - y1], faces.landmarks[i].reshape(-1), [faces.scores[i]]]).astype(
            np.float32
        )[None, :]
        return np.asarray(self._net.alignCrop(image, row), np.uint8)

    def embed(self, aligned: NDArray[np.uint8]) -> NDArray[np.float32]:
        feature = np.asarray(self._net.feature(aligned), np.float32).reshape(-1)
        norm = float(np.linalg.norm(feature))
        if not np.isfinite(norm) or norm < 1e-6:
            raise ModelError("SFace returned a degenerate embedding")
        return (feature / norm).astype(np.float32)
