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
   heads are still several pixels wide, and the count moves from the combined count to CSRNet's
   sum as that sum grows: below :attr:`CountRule.blend_from` people the combined count, above
   :attr:`CountRule.blend_to` the density sum, linearly in between (detection saturates in
   crowds).

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
    DEFAULT_TAIL_BLEND_PEOPLE,
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
    tail_blend_from: float = DEFAULT_TAIL_BLEND_PEOPLE[0]
    tail_blend_to: float = DEFAULT_TAIL_BLEND_PEOPLE[1]
    """The blend of a count made on the fine-tuned tail's map (``crowd.tail_blend_people``)."""

    def __post_init__(self) -> None:
        if not self.near_min_people >= 0:
            raise ValueError(f"near_min_people must be >= 0, got {self.near_min_people}")
        if not self.near_few_people >= 0:
            raise ValueError(f"near_few_people must be >= 0, got {self.near_few_people}")
        if not 0 <= self.blend_from < self.blend_to:
            raise ValueError(f"blend range must satisfy 0 <= from < to, got {self.blend_from}, {self.blend_to}")

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
            crowd.tail_blend_people[0],
            crowd.tail_blend_people[1],
        )

    def for_tuned_map(self) -> CountRule:
        """This rule with the blend of a count on the fine-tuned tail's map."""
        return replace(self, blend_from=self.tail_blend_from, blend_to=self.tail_blend_to)

    def to_json_dict(self) -> dict[str, float]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    def density_weight(self, density: float) -> float:
        """How much of the count is CSRNet's sum (0: the combined count only, 1: density only)."""
        return float(np.clip((density - self.blend_from) / (self.blend_to - self.blend_from), 0.0, 1.0))

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
    combined: float
    density_weight: float
    input_width: int
    placed: PlacedCount
    """Where the counted people are (rows), for a per-camera calibration."""
    ms: float


def placed_count(
    dmap: DensityMap, parts: DensityParts, boxes: FloatArray, weight: float, frame_height: int
) -> PlacedCount:
    """The counted people by row: ``1 - weight`` of the combined count (each detected person at
    its head, the density detection missed at its cells) plus ``weight`` of the density map."""
    scale = dmap.cell_scale
    oy = dmap.origin[1]
    rows = (np.arange(parts.total.shape[0], dtype=np.float64) + 0.5) / scale + oy
    ys: list[np.ndarray] = []
    people: list[np.ndarray] = []
    if weight < 1.0:
        heads = boxes[:, 1] + HEAD_FRACTION * (boxes[:, 3] - boxes[:, 1]) if len(boxes) else np.zeros(0)
        ys += [np.asarray(heads, dtype=np.float64), rows]
        people += [np.full(len(heads), 1.0 - weight), parts.residual.sum(axis=1).astype(np.float64) * (1.0 - weight)]
    if weight > 0.0:
        ys.append(rows)
        people.append(parts.total.sum(axis=1).astype(np.float64) * weight)
    return PlacedCount(np.concatenate(ys) / frame_height, np.concatenate(people))


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
        near = rule.density_disagrees(counted.density, counted.combined)
        if not near and dmap.tuned is not None:  # gated on the stock map, counted on the tuned tail's
            counted = count_from_map(dmap.counting_map(), boxes, rule.for_tuned_map(), input_width=input_width)
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
    where the combined count is used alone)."""
    parts = split_density(dmap, boxes, rule.floor, rule.hidden_heads_px)
    combined = float(len(boxes)) + float(parts.residual.sum())
    dens = dmap.count
    weight = 0.0 if near else rule.density_weight(dens)
    count = (1.0 - weight) * combined + weight * dens
    placed = placed_count(dmap, parts, boxes, weight, dmap.frame_height)
    return FrameCount(count, len(boxes), dens, combined, weight, input_width, placed, 0.0)
