"""CSRNet crowd density on ONNX Runtime: frame → density map whose sum is the number of people.

The runtime sees only tensors: this module turns a BGR frame into CSRNet's input (scaled to
``input_width``, RGB, ImageNet-normalised) and the output back into a map in frame terms.
The session comes from the caller (``workers`` composes it), so this package needs no
knowledge of where models live.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Protocol

import cv2
import numpy as np
from numpy.typing import NDArray

from vigil.config.crowd import DEFAULT_DENSITY_INPUT_WIDTH
from vigil.core.errors import ModelError
from vigil.core.frame import BGRImage

IMAGENET_MEAN_RGB = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD_RGB = np.array([0.229, 0.224, 0.225], dtype=np.float32)
STRIDE = 8


class TensorSession(Protocol):
    """What is needed of an ONNX Runtime ``InferenceSession``."""

    def run(self, output_names: Any, input_feed: dict[str, Any]) -> list[Any]: ...


@dataclass(frozen=True, slots=True)
class DensityMap:
    """CSRNet's output for one frame.

    Attributes:
        density: ``(h, w)`` float32 people per cell; ``h, w`` ≈ the scaled input / 8.
        frame_width: width of the frame it came from (pixels).
        frame_height: height of the frame it came from.
        ms: inference time in milliseconds.
    """

    density: NDArray[np.float32]
    frame_width: int
    frame_height: int
    ms: float

    @property
    def count(self) -> float:
        """Estimated people in the whole frame (negative noise clipped)."""
        return float(np.clip(self.density, 0, None).sum(dtype=np.float64).item())

    @property
    def cell_scale(self) -> float:
        """Density-map cells per frame pixel (x and y are scaled alike)."""
        return int(self.density.shape[1]) / self.frame_width


def preprocess(image: BGRImage, input_width: int) -> NDArray[np.float32]:
    """BGR ``(H, W, 3)`` uint8 → CSRNet input ``(1, 3, h, w)``, ``w = input_width``, ``h`` keeps the aspect.

    Both sides are multiples of 8 so the three poolings divide evenly.
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.size == 0:
        raise ValueError(f"expected a BGR image of shape (H, W, 3), got {image.shape}")
    height, width = image.shape[:2]
    w = max(STRIDE, input_width // STRIDE * STRIDE)
    h = max(STRIDE, round(height * w / width / STRIDE) * STRIDE)
    resized = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA) if (w, h) != (width, height) else image
    rgb = resized[:, :, ::-1].astype(np.float32) / 255.0
    blob = ((rgb - IMAGENET_MEAN_RGB) / IMAGENET_STD_RGB).transpose(2, 0, 1)[None]
    return np.ascontiguousarray(blob, dtype=np.float32)


class DensityEstimator:
    """Runs CSRNet on frames.

    Args:
        session: an ONNX Runtime session of the model built by ``vigil models install`` (``csrnet``).
        input_width: frames are scaled to this width first (384 default: about a third of 512's time, docs/crowd.md).
    """

    def __init__(self, session: TensorSession, input_width: int = DEFAULT_DENSITY_INPUT_WIDTH) -> None:
        if input_width < STRIDE:
            raise ValueError(f"input_width must be >= {STRIDE}, got {input_width}")
        self._session = session
        self.input_width = input_width

    def estimate(self, image: BGRImage) -> DensityMap:
        """Density map of one BGR frame.

        Raises:
            ModelError: ONNX Runtime failed on the input.
        """
        blob = preprocess(image, self.input_width)
        started = time.perf_counter()
        try:
            out = self._session.run(None, {"image": blob})[0]
        except Exception as exc:  # ONNX Runtime raises its own untyped errors; convert at the boundary
            raise ModelError(f"CSRNet inference failed on a {blob.shape} input: {exc}") from exc
        ms = (time.perf_counter() - started) * 1000.0
        density = np.asarray(out, dtype=np.float32).reshape(out.shape[-2], out.shape[-1])
        return DensityMap(density=density, frame_width=int(image.shape[1]), frame_height=int(image.shape[0]), ms=ms)
