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
counted by detection (one each; small far boxes: see "Hidden heads" below); elsewhere the
density map counts, but only in cells whose density is at
least :data:`DENSITY_FLOOR` people per cell. One head in CSRNet's training targets is a Gaussian
of a few cells, whose core cells carry roughly 0.03–0.15 people each; the diffuse response on
walls, clothes and foliage stays well below that. With tiled detection any floor from 0.02 to
0.05 gives MAE within 0.3 of each other (CSRNet at 384 or 512 px, detector confidence 0.25 or
0.3), so the rule is not tuned to one set; bench/crowd_sweep.py prints the sweep and a
split-half check.

Hidden heads: in dense far crowds one person box often covers several people (heads behind
heads), which detection counts as one (IMG_4, 9, 17: −5 … −13). Where a person is small in
CSRNet's input — under :data:`HIDDEN_HEADS_INPUT_PX` pixels tall, heads of a few pixels, the
scale of the dense crowds it was trained on — its density inside the box is trusted: the box
counts the density mass above the floor when that exceeds one person. Large, near boxes keep
counting one (CSRNet over-counts near people several times over). Measured (docs/crowd.md):
combined MAE 3.20 → 2.70 with fp32 models, 3.61 → 3.52 with int8, better on both halves in both;
limits of 28–40 input pixels (75–107 frame pixels at 1024 px) give 2.70–2.94 (fp32) and
3.52–3.57 (int8), 24 px gives 3.15 / 3.56.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from vigil.config.crowd import DEFAULT_DENSITY_FLOOR, DEFAULT_HIDDEN_HEADS_PX
from vigil.crowd.density import STRIDE, DensityMap
from vigil.crowd.geometry import FloatArray

HIDDEN_HEADS_INPUT_PX = DEFAULT_HIDDEN_HEADS_PX
"""Person boxes shorter than this in CSRNet's input pixels count their density (see module doc)."""

DENSITY_FLOOR = DEFAULT_DENSITY_FLOOR
"""People per density cell below which CSRNet's output is treated as background (see module doc)."""


@dataclass(frozen=True, slots=True)
class DensityParts:
    """A density map split against the person boxes of the same frame.

    Attributes:
        total: ``(h, w)`` density, negatives clipped.
        residual: ``(h, w)`` the people detection did not find: density above the floor outside
            every person box, plus, inside small boxes, the density beyond the one person the
            box counts.
    """

    total: NDArray[np.float32]
    residual: NDArray[np.float32]
    cell_scale: float
    origin: tuple[int, int] = (0, 0)
    """Frame pixel of the maps' top-left corner (not (0, 0) when density ran on a region only)."""


def split_density(
    dmap: DensityMap,
    person_boxes: FloatArray,
    floor: float = DENSITY_FLOOR,
    hidden_heads_px: float = HIDDEN_HEADS_INPUT_PX,
) -> DensityParts:
    """Split ``dmap`` into what detection already covers and what it missed.

    Args:
        dmap: CSRNet output for the frame.
        person_boxes: ``(N, 4)`` person boxes in frame pixels (N may be 0).
        floor: density per cell below which a cell counts as background.
        hidden_heads_px: boxes shorter than this in CSRNet's input pixels count the density in
            them when it exceeds one person (0: every box counts one).
    """
    total = np.clip(dmap.density, 0, None).astype(np.float32)
    h, w = total.shape
    covered = np.zeros((h, w), dtype=bool)
    hidden = np.zeros((h, w), dtype=np.float32)
    s = dmap.cell_scale
    ox, oy = dmap.origin
    small = hidden_heads_px / (s * STRIDE)  # the limit in frame pixels
    for x1, y1, x2, y2 in person_boxes:
        c1, r1 = max(0, int(np.floor((x1 - ox) * s))), max(0, int(np.floor((y1 - oy) * s)))
        c2, r2 = min(w, int(np.ceil((x2 - ox) * s))), min(h, int(np.ceil((y2 - oy) * s)))
        if c1 >= c2 or r1 >= r2:
            continue  # a person outside the region the density ran on
        covered[r1:r2, c1:c2] = True
        if y2 - y1 < small:
            dense = np.where(total[r1:r2, c1:c2] >= floor, total[r1:r2, c1:c2], 0.0)
            mass = float(dense.sum())
            if mass > 1.0:
                # Spread the people beyond the box's own one over its dense cells, so that zone
                # masks split them where they are.
                hidden[r1:r2, c1:c2] += dense * ((mass - 1.0) / mass)
    residual = (np.where(~covered & (total >= floor), total, 0.0) + hidden).astype(np.float32)
    return DensityParts(total=total, residual=residual, cell_scale=s, origin=dmap.origin)


def combined_count(detections_in: int, parts: DensityParts, mask: NDArray[np.bool_] | None = None) -> float:
    """Detections in the region plus the density detection missed there (``mask`` on the density grid)."""
    residual = parts.residual if mask is None else parts.residual[mask]
    return float(detections_in) + float(residual.sum())


def density_count(parts: DensityParts, mask: NDArray[np.bool_] | None = None) -> float:
    """CSRNet alone: the sum of the density in the region."""
    return float(parts.total.sum() if mask is None else parts.total[mask].sum())
