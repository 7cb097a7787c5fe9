"""CSRNet crowd density on ONNX Runtime: frame → density map whose sum is the number of people.

The runtime sees only tensors: this module turns a BGR frame into CSRNet's input (scaled to
``input_width``, RGB, ImageNet-normalised) and the output back into a map in frame terms.
The session comes from the caller (``workers`` composes it), so this package needs no
knowledge of where models live.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any, Literal, Protocol

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
    origin: tuple[int, int] = (0, 0)
    """Frame pixel ``(x, y)`` of the map's top-left corner: not ``(0, 0)`` when only a region ran."""
    region_width: int | None = None
    """Width in frame pixels of the region the map covers (None: the whole frame)."""
    tuned: NDArray[np.float32] | None = None
    """The fine-tuned tail's map of the same input (``crowd.density_tail: tuned``), or None."""

    def counting_map(self) -> DensityMap:
        """The map to count with off the near-people path: the tuned tail's where the graph has one
        (the gate reads this stock map)."""
        return self if self.tuned is None else replace(self, density=self.tuned, tuned=None)

    @property
    def count(self) -> float:
        """Estimated people in the region it covers (negative noise clipped)."""
        return float(np.clip(self.density, 0, None).sum(dtype=np.float64).item())

    @property
    def cell_scale(self) -> float:
        """Density-map cells per frame pixel (x and y are scaled alike)."""
        return int(self.density.shape[1]) / (self.region_width or self.frame_width)

    def to_cells(self, xy: NDArray[np.float32] | NDArray[np.float64]) -> NDArray[np.float64]:
        """Frame pixel coordinates ``(..., 2)`` → density-map cell coordinates (may fall outside the map)."""
        return (np.asarray(xy, dtype=np.float64) - np.asarray(self.origin, dtype=np.float64)) * self.cell_scale


def frame_scale(frame_width: int, input_width: int) -> float:
    """Input pixels per frame pixel: frames wider than ``input_width`` are scaled down to it;
    narrower frames run at their own size (never enlarged: CSRNet over-counts enlarged heads)."""
    return min(1.0, input_width / frame_width)


def preprocess(image: BGRImage, input_width: int) -> NDArray[np.float32]:
    """BGR ``(H, W, 3)`` uint8 → CSRNet input ``(1, 3, h, w)``, ``w = input_width``, ``h`` keeps the aspect.

    Both sides are multiples of 8 so the three poolings divide evenly.
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.size == 0:
        raise ValueError(f"expected a BGR image of shape (H, W, 3), got {image.shape}")
    height, width = image.shape[:2]
    return _blob(image, max(STRIDE, input_width // STRIDE * STRIDE), width, height)


def _blob(image: BGRImage, w: int, width: int, height: int) -> NDArray[np.float32]:
    h = max(STRIDE, round(height * w / width / STRIDE) * STRIDE)
    resized = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA) if (w, h) != (width, height) else image
    rgb = resized[:, :, ::-1].astype(np.float32) / 255.0
    blob = ((rgb - IMAGENET_MEAN_RGB) / IMAGENET_STD_RGB).transpose(2, 0, 1)[None]
    return np.ascontiguousarray(blob, dtype=np.float32)


def prepare(image: BGRImage, input_width: int, region: tuple[int, int, int, int] | None = None) -> NDArray[np.float32]:
    """The CSRNet input for ``image`` (or its ``region`` ``(x0, y0, x1, y1)``) at the scale of
    :func:`frame_scale`: what :meth:`DensityEstimator.estimate` runs, and what the fine-tuning
    script (scripts/train_crowd_density.py) trains on.

    Raises:
        ValueError: not a BGR image, or a region outside it.
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.size == 0:
        raise ValueError(f"expected a BGR image of shape (H, W, 3), got {image.shape}")
    height, width = int(image.shape[0]), int(image.shape[1])
    scale = frame_scale(width, input_width)
    x0, y0, x1, y1 = region if region is not None else (0, 0, width, height)
    if not (0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height):
        raise ValueError(f"region {(x0, y0, x1, y1)} is not inside the {width}x{height} frame")
    crop = image if region is None else np.ascontiguousarray(image[y0:y1, x0:x1])
    return _blob(crop, max(STRIDE, round((x1 - x0) * scale / STRIDE) * STRIDE), x1 - x0, y1 - y0)


class DensityEstimator:
    """Runs CSRNet on frames.

    Args:
        session: an ONNX Runtime session of the model built by ``vigil models install`` (``csrnet``).
        input_width: frames wider than this are scaled down to it first; narrower ones run at
            their own size (:func:`frame_scale`; docs/crowd.md, "Counting at the frame's own resolution").
        tail: which graph ``session`` runs, for reports: ``tuned``, the two-tail graph (model
            ``csrnet-tail``), or ``stock``.
    """

    def __init__(
        self,
        session: TensorSession,
        input_width: int = DEFAULT_DENSITY_INPUT_WIDTH,
        tail: Literal["stock", "tuned"] = "stock",
    ) -> None:
        if input_width < STRIDE:
            raise ValueError(f"input_width must be >= {STRIDE}, got {input_width}")
        self._session = session
        self.input_width = input_width
        self.tail = tail

    def estimate(
        self, image: BGRImage, region: tuple[int, int, int, int] | None = None, input_width: int | None = None
    ) -> DensityMap:
        """Density map of one BGR frame, or of ``region`` ``(x0, y0, x1, y1)`` of it only;
        ``input_width`` instead of the estimator's own for this frame.

        A region runs at the scale the whole frame would (:func:`frame_scale`), so heads have
        the same size in pixels either way; it costs its share of the frame's pixels.

        Raises:
            ModelError: ONNX Runtime failed on the input.
            ValueError: not a BGR image, or a region outside it or too small.
        """
        height, width = int(image.shape[0]), int(image.shape[1])
        blob = prepare(image, input_width or self.input_width, region)
        x0, y0, x1, _ = region if region is not None else (0, 0, width, height)
        started = time.perf_counter()
        try:
            outs = self._session.run(None, {"image": blob})
        except Exception as exc:  # ONNX Runtime raises its own untyped errors; convert at the boundary
            raise ModelError(f"CSRNet inference failed on a {blob.shape} input: {exc}") from exc
        ms = (time.perf_counter() - started) * 1000.0
        out = outs[0]
        density = np.asarray(out, dtype=np.float32).reshape(out.shape[-2], out.shape[-1])
        # A two-tail graph (model csrnet-tail) also returns the tuned tail's map of the same shape.
        tuned = np.asarray(outs[1], dtype=np.float32).reshape(density.shape) if len(outs) > 1 else None
        return DensityMap(
            density=density,
            frame_width=width,
            frame_height=height,
            ms=ms,
            origin=(x0, y0),
            region_width=x1 - x0,
            tuned=tuned,
        )
