"""Person detection for crowd counting: the whole frame plus overlapping tiles, merged.

YOLOv4-tiny sees a frame squeezed to its square input (416 px): in a 1024×768 photo a person
60 px tall shrinks to about 30 px at the network, near the smallest objects its coarse
(stride-16/32) heads resolve, so small, far people are lost. Running the same detector on a
``g × g`` grid of overlapping tiles magnifies each tile by about ``g`` and brings those people
back into the range it was trained on, at ``1 + g²`` detector runs per counted frame.

Merging (no scores needed, so any ``image → boxes`` detector works):

* whole-frame boxes are kept as they are (the detector's own NMS already ran on them);
* a tile box is dropped if it overlaps a kept box by more than the detector's NMS IoU, or lies
  mostly (:data:`CONTAINED`) inside a kept box, or a kept box lies mostly inside it: the same
  person seen whole in the frame, or cut by a tile edge and seen whole in another tile;
* tile boxes are taken largest first, so a person cut by a tile edge is represented by the
  more complete view.

Tiles overlap by :data:`TILE_OVERLAP` of the frame side (20 %: 154 px of a 768 px frame, more
than the height of the small, far people the tiles are for), so each of them lies whole in at
least one tile. docs/crowd.md has the measurements (bench/crowd_sweep.py).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from vigil.core.frame import BGRImage
from vigil.core.geometry import box_iou
from vigil.crowd.geometry import FloatArray

TILE_OVERLAP = 0.2
"""Overlap of neighbouring tiles as a fraction of the frame side."""
CONTAINED = 0.7
"""A box with at least this fraction of its area inside another box is the same person (a cut view)."""

Detector = Callable[[BGRImage], FloatArray]


def tile_origins(width: int, height: int, grid: int, overlap: float = TILE_OVERLAP) -> list[tuple[int, int, int, int]]:
    """``(x0, y0, w, h)`` of a ``grid × grid`` set of tiles covering the frame with ``overlap``.

    Raises:
        ValueError: ``grid < 1`` or ``overlap`` outside ``[0, 1)``.
    """
    if grid < 1:
        raise ValueError(f"grid must be >= 1, got {grid}")
    if not 0.0 <= overlap < 1.0:
        raise ValueError(f"overlap must be in [0, 1), got {overlap}")
    if grid == 1:
        return [(0, 0, width, height)]
    tw = min(width, int(np.ceil(width * (1.0 + (grid - 1) * overlap) / grid)))
    th = min(height, int(np.ceil(height * (1.0 + (grid - 1) * overlap) / grid)))
    xs = [round(i * (width - tw) / (grid - 1)) for i in range(grid)]
    ys = [round(i * (height - th) / (grid - 1)) for i in range(grid)]
    return [(x, y, tw, th) for y in ys for x in xs]


def _containment(a: FloatArray, b: FloatArray) -> FloatArray:
    """``(len a, len b)``: intersection over the smaller box's area."""
    ix = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    iy = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    area_a = ((a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]))[:, None]
    area_b = ((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]))[None, :]
    smaller = np.maximum(np.minimum(area_a, area_b), 1e-6)
    return np.asarray(ix * iy / smaller, dtype=np.float32)


def merge_tile_boxes(frame_boxes: FloatArray, tile_boxes: FloatArray, nms_iou: float = 0.45) -> FloatArray:
    """Whole-frame boxes plus the tile boxes that are not one of them (see module doc)."""
    kept = np.asarray(frame_boxes, dtype=np.float32).reshape(-1, 4)
    tiles = np.asarray(tile_boxes, dtype=np.float32).reshape(-1, 4)
    if tiles.shape[0] == 0:
        return kept
    areas = (tiles[:, 2] - tiles[:, 0]) * (tiles[:, 3] - tiles[:, 1])
    rows = [kept[i] for i in range(kept.shape[0])]
    for i in np.argsort(-areas, kind="stable"):
        box = tiles[i : i + 1]
        if rows:
            others = np.stack(rows)
            if box_iou(box, others).max() > nms_iou or _containment(box, others).max() >= CONTAINED:
                continue
        rows.append(tiles[i])
    return np.stack(rows).astype(np.float32) if rows else kept


def tiled(detector: Detector, grid: int, nms_iou: float = 0.45, overlap: float = TILE_OVERLAP) -> Detector:
    """``detector`` run on the whole frame and on ``grid × grid`` overlapping tiles, merged.

    ``grid == 1`` returns ``detector`` itself.
    """
    origins_ok = tile_origins(64, 64, grid, overlap)  # validates the arguments now, not per frame
    if len(origins_ok) == 1:
        return detector

    def detect(image: BGRImage) -> FloatArray:
        return merge_tile_boxes(detector(image), tile_boxes(detector, image, grid, overlap), nms_iou)

    return detect


def tile_boxes(detector: Detector, image: BGRImage, grid: int, overlap: float = TILE_OVERLAP) -> FloatArray:
    """``(N, 4)`` boxes found on the ``grid × grid`` overlapping tiles only, in frame pixels."""
    height, width = image.shape[:2]
    parts: list[FloatArray] = []
    for x0, y0, tw, th in tile_origins(width, height, grid, overlap):
        boxes = np.asarray(detector(np.ascontiguousarray(image[y0 : y0 + th, x0 : x0 + tw])), dtype=np.float32)
        parts.append(boxes.reshape(-1, 4) + np.array([x0, y0, x0, y0], dtype=np.float32))
    return np.concatenate(parts) if parts else np.zeros((0, 4), dtype=np.float32)
