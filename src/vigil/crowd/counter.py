"""The counting step: one frame → people, from tiled person detection and CSRNet density.

The rule (issue 22; chosen by cross-validation on the training splits, docs/crowd.md
"Counting at the frame's own resolution"):

1. Person boxes on the whole frame and on overlapping tiles (:mod:`vigil.crowd.tiling`).
2. How near the people are is measured: the median box height as a fraction of the frame
   height (above :attr:`CountRule.near_height`), or, at full resolution, CSRNet's sum more than
   :attr:`CountRule.near_ratio` times the combined count (detections + the density detection
   missed, :func:`vigil.crowd.combine.split_density`): the two disagree because CSRNet fires on
   large people and texture — except from :attr:`CountRule.near_few_people` up to
   :attr:`CountRule.near_min_people` combined people, where the gap is small, occluded people
   detection missed. Frames of near people, what detection is sure of, run CSRNet at
   :attr:`CountRule.near_width` and count with the combined count, as before issue 22.
3. Other frames run CSRNet at their own width (at most ``crowd.density_input_width``), where far
   heads are still several pixels wide. With the fine-tuned tail (``crowd.density_tail: tuned``,
   the default) the count is :attr:`CountRule.far_combined` times the stock map's combined count
   plus :attr:`CountRule.far_tuned` times the tuned tail's sum (docs/crowd.md, "Eighth round").
   With the stock tail it moves from the combined count to CSRNet's sum as that sum grows: below
   :attr:`CountRule.blend_from` people the combined count, above :attr:`CountRule.blend_to` the
   density sum, linearly in between (detection saturates in crowds).
   :meth:`CountRule.weights` is the one home of these three counts (the live zones use it too).

A per-camera calibration (:mod:`vigil.crowd.calibration`) then scales the count by the rows
its people are at (:attr:`FrameCount.placed`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from vigil.config.crowd import (
    DEFAULT_BLEND_PEOPLE,
    DEFAULT_DENSITY_FLOOR,
    DEFAULT_HIDDEN_HEADS_PX,
    DEFAULT_NEAR_FEW_PEOPLE,
    DEFAULT_NEAR_HEIGHT,
    DEFAULT_NEAR_MIN_PEOPLE,
    DEFAULT_NEAR_RATIO,
    DEFAULT_NEAR_WIDTH,
    DEFAULT_TAIL_FAR_WEIGHTS,
    CrowdConfig,
)
from vigil.core.frame import BGRImage
from vigil.crowd.calibration import HEAD_FRACTION, PlacedCount
from vigil.crowd.combine import DensityParts, split_density
from vigil.crowd.density import DensityEstimator, DensityMap
from vigil.crowd.geometry import FloatArray

Detector = Callable[[BGRImage], FloatArray]


@dataclass(frozen=True, slots=True)
class CountRule:
    """The settings of :func:`count_frame` (``crowd.*`` in the config)."""

    floor: float = DEFAULT_DENSITY_FLOOR
    hidden_heads_px: float = DEFAULT_HIDDEN_HEADS_PX
    near_height: float = DEFAULT_NEAR_HEIGHT
    """Median person-box height (fraction of the frame height) above which people are near."""
    near_width: int = DEFAULT_NEAR_WIDTH
    """CSRNet input width for frames of near people."""
    near_ratio: float = DEFAULT_NEAR_RATIO
    """A full-resolution CSRNet sum over this many times the combined count also means near people."""
    blend_from: float = DEFAULT_BLEND_PEOPLE[0]
    blend_to: float = DEFAULT_BLEND_PEOPLE[1]
    near_min_people: float = DEFAULT_NEAR_MIN_PEOPLE
    """The :attr:`near_ratio` test applies only from this many combined people (0: always) ..."""
    near_few_people: float = DEFAULT_NEAR_FEW_PEOPLE
    """... or under this many (0: no exception): with almost nobody detected, CSRNet's sum is texture."""
    far_combined: float = DEFAULT_TAIL_FAR_WEIGHTS[0]
    """Off the near path with the tuned tail: this many times the stock map's combined count ..."""
    far_tuned: float = DEFAULT_TAIL_FAR_WEIGHTS[1]
    """... plus this many times the tuned tail's sum (``crowd.tail_far_weights``)."""

    def __post_init__(self) -> None:
        if not self.near_min_people >= 0:
            raise ValueError(f"near_min_people must be >= 0, got {self.near_min_people}")
        if not self.near_few_people >= 0:
            raise ValueError(f"near_few_people must be >= 0, got {self.near_few_people}")
        if not 0 <= self.blend_from < self.blend_to:
            raise ValueError(f"blend range must satisfy 0 <= from < to, got {self.blend_from}, {self.blend_to}")
        if not (self.far_combined >= 0 and self.far_tuned >= 0 and self.far_combined + self.far_tuned > 0):
            raise ValueError(f"far weights must be >= 0, not both 0, got {self.far_combined}, {self.far_tuned}")

    @classmethod
    def from_config(cls, crowd: CrowdConfig) -> CountRule:
        return cls(
            crowd.density_floor,
            crowd.hidden_heads_px,
            crowd.near_height,
            crowd.near_width,
            crowd.near_ratio,
            crowd.blend_people[0],
            crowd.blend_people[1],
            crowd.near_min_people,
            crowd.near_few_people,
            crowd.tail_far_weights[0],
            crowd.tail_far_weights[1],
        )

    def to_json_dict(self) -> dict[str, float]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    def density_weight(self, density: float) -> float:
        """The stock tail's ramp: how much of the count is CSRNet's sum (0: the combined count only,
        1: density only)."""
        return float(np.clip((density - self.blend_from) / (self.blend_to - self.blend_from), 0.0, 1.0))

    def weights(self, stock_density: float, *, near: bool, tuned: bool) -> tuple[float, float]:
        """``(combined weight, density weight)`` of a count: the near path counts the combined count
        alone; off it, with the tuned tail, :attr:`far_combined` of the stock map's combined count
        and :attr:`far_tuned` of the tuned tail's sum (fitted by 5-fold CV on the tuned map: the
        combined count still carries what the tail misses on sparse frames, docs/crowd.md "Eighth
        round"); with the stock tail the ramp of :meth:`density_weight` on the stock sum."""
        if near:
            return 1.0, 0.0
        if tuned:
            return self.far_combined, self.far_tuned
        weight = self.density_weight(stock_density)
        return 1.0 - weight, weight

    def count(self, combined: float, stock_density: float, tuned_density: float | None, *, near: bool) -> float:
        """The count of a frame or zone from the stock map's combined count and sum, and the tuned
        tail's sum (None: no tuned tail)."""
        a, b = self.weights(stock_density, near=near, tuned=tuned_density is not None)
        return a * combined + b * (stock_density if tuned_density is None else tuned_density)

    def density_disagrees(self, density: float, combined: float) -> bool:
        """CSRNet's full-resolution sum is far above the combined count: it fires on near people
        (and texture), so the frame is counted as one of near people. Not from
        :attr:`near_few_people` up to :attr:`near_min_people` combined people, where the gap is people
        detection missed (Mall's small, occluded people); under :attr:`near_few_people` (almost
        nobody detected) CSRNet's sum is texture or a few near bodies, and the test applies."""
        gated = self.near_few_people <= combined < self.near_min_people
        return not gated and density > self.near_ratio * max(combined, 1.0)

    def people_are_near(self, boxes: FloatArray, frame_height: int) -> bool:
        if len(boxes) == 0:
            return False
        return float(np.median(boxes[:, 3] - boxes[:, 1])) > self.near_height * frame_height


@dataclass(frozen=True, slots=True)
class FrameCount:
    """One frame's count and how it was made."""

    count: float
    detected: int
    density: float
    """The sum of the map counted with: the tuned tail's off the near path where the graph has one."""
    combined: float
    """The combined count on the stock map."""
    combined_weight: float
    density_weight: float
    """``count == combined_weight * combined + density_weight * density`` (:meth:`CountRule.weights`)."""
    input_width: int
    stock_density: float
    """The stock map's sum (what the near-people gate reads)."""
    placed: PlacedCount
    """Where the counted people are (rows), for a per-camera calibration."""
    ms: float


def placed_count(dmap: DensityMap, parts: DensityParts, boxes: FloatArray, weights: tuple[float, float]) -> PlacedCount:
    """The counted people by row: ``weights[0]`` of the combined count (each detected person at
    its head, the density detection missed at its cells of ``parts``, the stock map's) plus
    ``weights[1]`` of ``dmap``'s density (the map counted with), so that the placed total is the
    count (:meth:`CountRule.weights`) and a calibration scales what was counted."""
    combined_weight, density_weight = weights
    scale = dmap.cell_scale
    oy = dmap.origin[1]
    rows = (np.arange(parts.total.shape[0], dtype=np.float64) + 0.5) / scale + oy
    ys: list[np.ndarray] = []
    people: list[np.ndarray] = []
    if combined_weight > 0.0:
        heads = boxes[:, 1] + HEAD_FRACTION * (boxes[:, 3] - boxes[:, 1]) if len(boxes) else np.zeros(0)
        ys += [np.asarray(heads, dtype=np.float64), rows]
        people += [
            np.full(len(heads), combined_weight),
            parts.residual.sum(axis=1).astype(np.float64) * combined_weight,
        ]
    if density_weight > 0.0:
        ys.append(rows)
        people.append(np.clip(dmap.density, 0, None).sum(axis=1, dtype=np.float64) * density_weight)
    return PlacedCount(np.concatenate(ys) / dmap.frame_height, np.concatenate(people))


def count_frame(image: BGRImage, detector: Detector, density: DensityEstimator, rule: CountRule) -> FrameCount:
    """Count one BGR frame (``detector``: tiled person boxes in frame pixels)."""
    started = time.perf_counter()
    height, width = int(image.shape[0]), int(image.shape[1])
    boxes = np.asarray(detector(image), dtype=np.float32).reshape(-1, 4)
    near = rule.people_are_near(boxes, height)
    if not near:
        input_width = min(width, density.input_width)
        dmap = density.estimate(image, input_width=input_width)
        counted = count_from_map(dmap, boxes, rule, input_width=input_width)
        near = rule.density_disagrees(counted.stock_density, counted.combined)  # the stock map, tuned tail or not
    if near:
        input_width = min(width, rule.near_width)
        counted = count_from_map(
            density.estimate(image, input_width=input_width), boxes, rule, near=True, input_width=input_width
        )
    return replace(counted, ms=(time.perf_counter() - started) * 1000.0)


def count_from_map(
    dmap: DensityMap, boxes: FloatArray, rule: CountRule, *, near: bool = False, input_width: int
) -> FrameCount:
    """The count of a frame from its person boxes and CSRNet map (``near``: the near-people path,
    where the combined count is used alone; off it a map with a tuned tail counts with
    :attr:`CountRule.far_combined` and :attr:`CountRule.far_tuned`). The combined count is always
    the stock map's."""
    parts = split_density(dmap, boxes, rule.floor, rule.hidden_heads_px)
    combined = float(len(boxes)) + float(parts.residual.sum())
    stock = dmap.count
    counting = dmap if near else dmap.counting_map()
    dens = counting.count
    tuned = None if counting is dmap else dens
    weights = rule.weights(stock, near=near, tuned=tuned is not None)
    count = rule.count(combined, stock, tuned, near=near)
    placed = placed_count(counting, parts, boxes, weights)
    return FrameCount(count, len(boxes), dens, combined, *weights, input_width, stock, placed, 0.0)
