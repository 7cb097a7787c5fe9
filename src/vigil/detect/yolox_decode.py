"""YOLOX (Megvii, anchor-free) rows → :class:`Candidates`, in numpy.

A YOLOX ONNX export without decoding (``tools/export_onnx.py`` default) gives one output
``(1, N, 5 + C)``: one row per grid cell of the stride-8, 16 and 32 maps, in that order and
row-major inside a map; columns ``tx, ty, tw, th`` raw, then objectness and the C class
probabilities, both already through a sigmoid. The input is a top-left letterbox (see
:func:`vigil.detect.yolox.letterbox`), so the boxes decoded here are in canvas pixels and are
divided by the letterbox scale to land in the image.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from vigil.detect.yolo_decode import Candidates

YOLOX_STRIDES = (8, 16, 32)
"""The feature-map strides of every YOLOX model (P3-P5), in output order."""


InputSize = int | tuple[int, int]
"""A square input side S, or a ``(height, width)`` input (a free-size graph's rectangle)."""


def _hw(input_size: InputSize) -> tuple[int, int]:
    return (input_size, input_size) if isinstance(input_size, int) else input_size


def expected_rows(input_size: InputSize, strides: tuple[int, ...] = YOLOX_STRIDES) -> int:
    """Grid cells over all maps for an ``input_size`` input (3549 at 416x416, 2730 at 320x416)."""
    height, width = _hw(input_size)
    return sum((height // s) * (width // s) for s in strides)


@lru_cache(maxsize=64)
def _grid(input_hw: tuple[int, int], strides: tuple[int, ...]) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    cells: list[NDArray[np.float32]] = []
    steps: list[NDArray[np.float32]] = []
    for s in strides:
        rows_n, cols_n = input_hw[0] // s, input_hw[1] // s
        rows, cols = np.meshgrid(np.arange(rows_n), np.arange(cols_n), indexing="ij")
        cells.append(np.column_stack([cols.ravel(), rows.ravel()]).astype(np.float32))
        steps.append(np.full((rows_n * cols_n, 1), s, dtype=np.float32))
    return np.concatenate(cells), np.concatenate(steps)


def decode_yolox(
    rows: NDArray[np.float32],
    input_size: InputSize,
    scale: float,
    image_w: int,
    image_h: int,
    confidence: float,
    strides: tuple[int, ...] = YOLOX_STRIDES,
) -> Candidates:
    """Decode one image's YOLOX rows.

    Args:
        rows: ``(N, 5 + C)`` float32, N = :func:`expected_rows` (checked by the caller at load).
        input_size: the network input: a square side S, or ``(height, width)``.
        scale: the letterbox factor ``r = min(S / h, S / w)`` the image was resized by.
        image_w: image width in pixels.
        image_h: image height in pixels.
        confidence: minimum objectness x class probability to keep.
        strides: the maps' strides, in row order.

    Returns:
        Candidates with centre boxes normalised to the image (as :func:`to_detections` expects).
    """
    objectness = rows[:, 4]
    # score = objectness * p(class) <= objectness: most of the 3,549 cells are dropped here.
    cell = np.flatnonzero(objectness >= confidence)
    if cell.size == 0:
        return Candidates.empty()
    picked = rows[cell]
    class_prob = picked[:, 5:] * picked[:, 4:5]
    class_id = class_prob.argmax(axis=1)
    score = class_prob[np.arange(class_prob.shape[0]), class_id]
    keep = score >= confidence
    if not keep.any():
        return Candidates.empty()
    picked, cell = picked[keep], cell[keep]
    grid, stride = _grid(_hw(input_size), strides)
    centre = (picked[:, :2] + grid[cell]) * stride[cell]
    # Clipped so that a degenerate net cannot make inf boxes (they are clipped to the image anyway).
    size = np.exp(np.clip(picked[:, 2:4], -20.0, 20.0)) * stride[cell]
    per_image = np.array([image_w, image_h], dtype=np.float32) * np.float32(scale)
    return Candidates(
        cxcywh=np.concatenate([centre / per_image, size / per_image], axis=1).astype(np.float32),
        score=score[keep].astype(np.float32),
        class_id=class_id[keep].astype(np.int64),
    )
