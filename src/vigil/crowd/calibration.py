"""Per-camera count calibration: a correction fitted on a few labelled frames of one camera.

A camera sees people at its own distances and angles, so the counter's error on it has a shape
a generic model cannot know: CSRNet may over-count the near rows and under-count the far ones.
The correction is a factor per horizontal band of the frame (``bands`` bands of equal height),
fitted from frames whose heads are labelled (10-20 frames are enough for one band, a few more
for several): in band ``j`` the factor is the labelled people over the counted people, summed
over the frames, shrunk towards the whole-frame factor by :data:`PRIOR_PEOPLE` counted people
(a band with few people keeps close to the whole frame's factor). Factors are held to
``[MIN_FACTOR, MAX_FACTOR]``.

Counted people are placed where they are: density cells at their centre, a detected person at
the top of the box (the head, which is what labels mark), so a zone's count uses the factor of
the rows it covers. docs/crowd.md ("Per-camera calibration") has the measurements.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vigil.core.errors import InputError

PRIOR_PEOPLE = 20.0
"""Shrinkage of a band's factor towards the whole frame's, in counted people."""
MIN_FACTOR = 0.25
MAX_FACTOR = 4.0
MIN_FRAMES = 10
"""Fewer labelled frames than this cannot tell a camera's bias from chance."""
MAX_FRAMES = 1000
MIN_PEOPLE = 20
"""Labelled people over all frames below which no factor can be fitted."""
HEAD_FRACTION = 0.1
"""A detected person's head is this far down its box (labels mark heads)."""


@dataclass(frozen=True, slots=True)
class PlacedCount:
    """What the counter counted in one frame, placed by row.

    Attributes:
        y: ``(N,)`` rows of the counted parts as a fraction of the frame height (0 top, 1 bottom).
        people: ``(N,)`` people each part holds (a density cell's mass, 1 for a detected person).
    """

    y: NDArray[np.float64]
    people: NDArray[np.float64]

    @property
    def total(self) -> float:
        return float(self.people.sum())


@dataclass(frozen=True, slots=True)
class LabelledCount:
    """One calibration frame: the counter's placed count and the labelled head rows."""

    counted: PlacedCount
    truth_y: NDArray[np.float64]
    """Rows of the labelled heads as a fraction of the frame height."""


@dataclass(frozen=True, slots=True)
class CameraCalibration:
    """A fitted correction: one factor per band of rows (``len(factors)`` equal bands)."""

    factors: tuple[float, ...]

    def __post_init__(self) -> None:
        if not self.factors or not all(MIN_FACTOR <= f <= MAX_FACTOR for f in self.factors):
            raise ValueError(f"calibration factors must lie in [{MIN_FACTOR}, {MAX_FACTOR}], got {self.factors}")

    @property
    def bands(self) -> int:
        return len(self.factors)

    def factor_at(self, y: NDArray[np.float64]) -> NDArray[np.float64]:
        """The factor of each row ``y`` (fraction of the frame height; outside [0, 1] is clipped)."""
        band = np.clip((np.asarray(y, dtype=np.float64) * self.bands).astype(np.int64), 0, self.bands - 1)
        return np.asarray(self.factors, dtype=np.float64)[band]

    def apply(self, counted: PlacedCount) -> float:
        """The corrected count of one frame (or of one zone's part of it)."""
        return float((counted.people * self.factor_at(counted.y)).sum())

    def to_json_dict(self) -> dict[str, Any]:
        return {"kind": "row-bands", "factors": [round(f, 5) for f in self.factors]}

    @classmethod
    def from_json_dict(cls, data: dict[str, Any]) -> CameraCalibration:
        """Raises ValueError for data this version cannot read."""
        if data.get("kind") != "row-bands":
            raise ValueError(f"unknown calibration kind {data.get('kind')!r}")
        return cls(tuple(float(f) for f in data["factors"]))


def _band_sums(frames: Sequence[LabelledCount], bands: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    counted = np.zeros(bands)
    truth = np.zeros(bands)
    for f in frames:
        cb = np.clip((f.counted.y * bands).astype(np.int64), 0, bands - 1)
        tb = np.clip((f.truth_y * bands).astype(np.int64), 0, bands - 1)
        counted += np.bincount(cb, weights=f.counted.people, minlength=bands)
        truth += np.bincount(tb, minlength=bands)
    return counted, truth


def fit_calibration(frames: Sequence[LabelledCount], bands: int = 1) -> CameraCalibration:
    """Fit the band factors (see module doc).

    Raises:
        InputError: fewer than :data:`MIN_FRAMES` frames or :data:`MIN_PEOPLE` labelled people,
            or the counter counted nobody.
        ValueError: ``bands`` < 1.
    """
    if bands < 1:
        raise ValueError(f"bands must be >= 1, got {bands}")
    check_frame_count(len(frames))
    counted, truth = _band_sums(frames, bands)
    if truth.sum() < MIN_PEOPLE:
        raise InputError(
            f"the {len(frames)} frames hold {int(truth.sum())} labelled people;"
            f" a calibration needs at least {MIN_PEOPLE}"
        )
    if counted.sum() <= 0:
        raise InputError("the counter found nobody in the calibration frames; nothing to correct")
    overall = float(np.clip(truth.sum() / counted.sum(), MIN_FACTOR, MAX_FACTOR))
    factors = (truth + PRIOR_PEOPLE * overall) / (counted + PRIOR_PEOPLE)
    return CameraCalibration(tuple(float(f) for f in np.clip(factors, MIN_FACTOR, MAX_FACTOR)))


def check_frame_count(n: int) -> None:
    """Raise InputError unless ``n`` is an acceptable number of calibration frames."""
    if n < MIN_FRAMES:
        raise InputError(f"{n} labelled frames given; a calibration needs at least {MIN_FRAMES} (10-20 recommended)")
    if n > MAX_FRAMES:
        raise InputError(f"{n} labelled frames given; at most {MAX_FRAMES} are used for one calibration")


@dataclass(frozen=True, slots=True)
class CalibrationCheck:
    """How a calibration does on its own frames: before, after, and after held out one frame at a time."""

    mae_before: float
    bias_before: float
    mae_after: float
    bias_after: float
    mae_held_out: float
    """Each frame corrected by the calibration fitted on the other frames (an honest estimate)."""

    def to_json_dict(self) -> dict[str, float]:
        return {k: round(getattr(self, k), 3) for k in self.__dataclass_fields__}


def check_calibration(frames: Sequence[LabelledCount], calibration: CameraCalibration) -> CalibrationCheck:
    """Errors on the calibration frames before and after, and held out frame by frame."""
    truth = np.array([f.truth_y.shape[0] for f in frames], dtype=np.float64)
    before = np.array([f.counted.total for f in frames])
    after = np.array([calibration.apply(f.counted) for f in frames])
    held: list[float] = []
    for i, f in enumerate(frames):
        rest = [g for j, g in enumerate(frames) if j != i]
        try:
            held.append(fit_calibration(rest, calibration.bands).apply(f.counted))
        except InputError:  # too few frames or people without this one: no held-out figure
            held.append(math.nan)
    held_err = np.abs(np.array(held) - truth)
    return CalibrationCheck(
        mae_before=float(np.abs(before - truth).mean()),
        bias_before=float((before - truth).mean()),
        mae_after=float(np.abs(after - truth).mean()),
        bias_after=float((after - truth).mean()),
        mae_held_out=float(np.nanmean(held_err)) if np.isfinite(held_err).any() else math.nan,
    )
