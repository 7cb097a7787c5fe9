"""How person detection and CSRNet density are combined into one count — the rule, measured.

Measured on ``../shared/data/crowd/train`` (30 photos, 6–53 people; docs/crowd.md):

* YOLOv4-tiny finds the large, near people reliably but misses small, far or overlapped heads
  (MAE 7.2 at 416 px, confidence 0.3, always undercounting; 5.1 when it also runs on 2×2
  overlapping tiles, :mod:`vigil.crowd.tiling`);
* CSRNet finds the small, far heads but spreads low density over every textured surface and
  over large near people, so its sum over-counts sparse scenes by several times (MAE 13.1 at
  384 px input, 19.7 at 512);
* a count-level switch (detection below a saturation count, density above) does not help
  there (MAE 6.4–13 for switch points 10–20): density is wrong by a factor, not an offset.

So the two are combined *per place in the picture*: people inside a detected person box are
counted by detection; elsewhere the density map counts, but only in cells whose density is at
least :data:`DENSITY_FLOOR` people per cell. One head in CSRNet's training targets is a Gaussian
of a few cells, whose core cells carry roughly 0.03–0.15 people each; the diffuse response on
walls, clothes and foliage stays well below that. With tiled detection any floor from 0.02 to
0.05 gives MAE within 0.3 of each other (CSRNet at 384 or 512 px, detector confidence 0.25 or
0.3), so the rule is not tuned to one set; bench/crowd_sweep.py prints the sweep and a
split-half check.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from vigil.config.crowd import DEFAULT_DENSITY_FLOOR
from vigil.crowd.density import DensityMap
from vigil.crowd.geometry import FloatArray

DENSITY_FLOOR = DEFAULT_DENSITY_FLOOR
"""People per density cell below which CSRNet's output is treated as background (see module doc)."""


@dataclass(frozen=True, slots=True)
class DensityParts:
    """A density map split against the person boxes of the same frame.

    Attributes:
        total: ``(h, w)`` density, negatives clipped.
        residual: ``(h, w)`` density outside every person box and above the floor: the people
            detection did not find.
    """

    total: NDArray[np.float32]
    residual: NDArray[np.float32]
    cell_scale: float


def split_density(dmap: DensityMap, person_boxes: FloatArray, floor: float = DENSITY_FLOOR) -> DensityParts:
    """Split ``dmap`` into what detection already covers and what it missed.

    Args:
        dmap: CSRNet output for the frame.
        person_boxes: ``(N, 4)`` person boxes in frame pixels (N may be 0).
        floor: density per cell below which a cell counts as background.
    """
    total = np.clip(dmap.density, 0, None).astype(np.float32)
    h, w = total.shape
    covered = np.zeros((h, w), dtype=bool)
    s = dmap.cell_scale
    for x1, y1, x2, y2 in person_boxes:
        c1, r1 = max(0, int(np.floor(x1 * s))), max(0, int(np.floor(y1 * s)))
        c2, r2 = min(w, int(np.ceil(x2 * s))), min(h, int(np.ceil(y2 * s)))
        covered[r1:r2, c1:c2] = True
    residual = np.where(~covered & (total >= floor), total, 0.0).astype(np.float32)
    return DensityParts(total=total, residual=residual, cell_scale=s)


def combined_count(detections_in: int, parts: DensityParts, mask: NDArray[np.bool_] | None = None) -> float:
    """Detections in the region plus the density detection missed there (``mask`` on the density grid)."""
    residual = parts.residual if mask is None else parts.residual[mask]
    return float(detections_in) + float(residual.sum())


def density_count(parts: DensityParts, mask: NDArray[np.bool_] | None = None) -> float:
    """CSRNet alone: the sum of the density in the region."""
    return float(parts.total.sum() if mask is None else parts.total[mask].sum())
