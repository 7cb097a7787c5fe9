"""``vigil crowd eval``: count people on a labelled set with detection, density or the combination."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

import cv2
import numpy as np

from vigil.config.crowd import DEFAULT_COUNT_TILES, DEFAULT_DENSITY_FLOOR, DEFAULT_HIDDEN_HEADS_PX
from vigil.core.errors import InputError
from vigil.core.frame import BGRImage
from vigil.crowd.calibration import CameraCalibration
from vigil.crowd.combine import combined_count, split_density
from vigil.crowd.counter import CountRule, count_frame
from vigil.crowd.dataset import CROWD_BANDS, CountErrors, count_errors, errors_by_band, head_points, list_images
from vigil.crowd.density import DensityEstimator
from vigil.crowd.geometry import FloatArray
from vigil.crowd.tiling import tiled

EvalMethod = Literal["auto", "detection", "density", "combined"]
EVAL_METHODS: tuple[str, ...] = get_args(EvalMethod)
PersonDetector = Callable[[BGRImage], FloatArray]
"""Image → person boxes ``(N, 4)`` in pixels."""


@dataclass(frozen=True, slots=True)
class ImageCount:
    """One image's count."""

    image: str
    truth: int
    predicted: float
    ms: float
    calibrated: float | None = None
    """The count with the camera's calibration applied (``auto`` with a calibration only)."""


@dataclass(frozen=True, slots=True)
class EvalResult:
    """Errors of one method over a set, and its speed."""

    method: EvalMethod
    errors: CountErrors
    ms_per_image: float
    images: tuple[ImageCount, ...]
    calibrated_errors: CountErrors | None = None
    """With the camera's calibration (None: no calibration applied)."""

    def by_band(self, edges: tuple[int, ...] = CROWD_BANDS, calibrated: bool = False) -> dict[str, CountErrors]:
        """Errors per band of the true count (``<20``, ``20-99``, ``>=100``)."""
        predicted = [(c.calibrated if calibrated and c.calibrated is not None else c.predicted) for c in self.images]
        return errors_by_band(predicted, [c.truth for c in self.images], edges)

    def to_json_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "n": self.errors.n,
            "mae": round(self.errors.mae, 3),
            "rmse": round(self.errors.rmse, 3),
            "bias": round(self.errors.bias, 3),
            "bands": {label: errors_json(e) for label, e in self.by_band().items()},
            "ms_per_image": round(self.ms_per_image, 1),
            "method": self.method,
        }
        if self.calibrated_errors is not None:
            out["calibrated"] = {
                **errors_json(self.calibrated_errors),
                "bands": {label: errors_json(e) for label, e in self.by_band(calibrated=True).items()},
            }
        return out


def errors_json(e: CountErrors) -> dict[str, float | int | None]:
    """``{"n", "mae", "rmse", "bias"}`` rounded; None for a band without images."""

    def r(v: float) -> float | None:
        return None if e.n == 0 else round(v, 3)

    return {"n": e.n, "mae": r(e.mae), "rmse": r(e.rmse), "bias": r(e.bias)}


def check_method(method: str) -> EvalMethod:
    """Return ``method`` if known; otherwise an InputError listing the valid ones."""
    if method not in EVAL_METHODS:
        raise InputError(f"unknown counting method {method!r}; choose one of: {', '.join(EVAL_METHODS)}")
    return method  # type: ignore[return-value]


def _read(path: Path) -> BGRImage:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise InputError(f"{path}: not a readable image")
    return np.asarray(image, dtype=np.uint8)


def iter_counts(
    root: Path,
    method: EvalMethod,
    detector: PersonDetector | None,
    density: DensityEstimator | None,
    *,
    tiles: int = DEFAULT_COUNT_TILES,
    floor: float = DEFAULT_DENSITY_FLOOR,
    hidden_heads_px: float = DEFAULT_HIDDEN_HEADS_PX,
    rule: CountRule | None = None,
    calibration: CameraCalibration | None = None,
    every: int = 1,
    skip: int = 0,
) -> Iterator[ImageCount]:
    """Count each image of ``root`` (ShanghaiTech layout) with ``method``.

    ``detection`` and ``combined`` count with ``detector`` on the whole frame plus ``tiles × tiles``
    overlapping tiles (:func:`vigil.crowd.tiling.tiled`; 1 = whole frame only); ``combined`` adds
    CSRNet density outside the person boxes in cells of at least ``floor`` people (and inside
    boxes shorter than ``hidden_heads_px`` CSRNet-input pixels, beyond one person each). ``auto``
    is Vigil's counting step (:func:`vigil.crowd.counter.count_frame` with ``rule``), corrected by
    ``calibration`` when given. ``every``/``skip``: count the images ``skip, skip + every, ...``
    of the set in natural order (a fixed subset).

    Raises:
        InputError: a missing or unreadable image or ground-truth file (named in the message).
        ValueError: the method needs a detector or density estimator that was not given.
    """
    if method in ("auto", "detection", "combined") and detector is None:
        raise ValueError(f"method {method!r} needs a person detector")
    if method in ("auto", "density", "combined") and density is None:
        raise ValueError(f"method {method!r} needs the density estimator")
    count_detector = tiled(detector, tiles) if detector is not None else None
    for item in list_images(root)[skip::every]:
        truth = int(head_points(item.truth).shape[0])
        image = _read(item.image)
        started = time.perf_counter()
        if method == "auto":
            assert count_detector is not None and density is not None
            counted = count_frame(image, count_detector, density, rule or CountRule(floor, hidden_heads_px))
            fixed = calibration.apply(counted.placed) if calibration is not None else None
            yield ImageCount(item.image.name, truth, counted.count, counted.ms, fixed)
            continue
        if method == "detection":
            assert count_detector is not None
            predicted = float(len(count_detector(image)))
        else:
            assert density is not None
            dmap = density.estimate(image)
            if method == "density":
                predicted = dmap.count
            else:
                assert count_detector is not None
                boxes = count_detector(image)
                predicted = combined_count(len(boxes), split_density(dmap, boxes, floor, hidden_heads_px))
        ms = (time.perf_counter() - started) * 1000.0
        yield ImageCount(item.image.name, truth, predicted, ms)


def evaluate(
    root: Path,
    method: EvalMethod,
    detector: PersonDetector | None,
    density: DensityEstimator | None,
    *,
    tiles: int = DEFAULT_COUNT_TILES,
    floor: float = DEFAULT_DENSITY_FLOOR,
    hidden_heads_px: float = DEFAULT_HIDDEN_HEADS_PX,
    rule: CountRule | None = None,
    calibration: CameraCalibration | None = None,
    every: int = 1,
    skip: int = 0,
) -> EvalResult:
    """MAE, RMSE and ms per image of ``method`` on ``root`` (keywords: see :func:`iter_counts`)."""
    counts = tuple(
        iter_counts(
            root,
            method,
            detector,
            density,
            tiles=tiles,
            floor=floor,
            hidden_heads_px=hidden_heads_px,
            rule=rule,
            calibration=calibration,
            every=every,
            skip=skip,
        )
    )
    truth = [c.truth for c in counts]
    errors = count_errors([c.predicted for c in counts], truth)
    fixed = [c.calibrated for c in counts]
    calibrated = count_errors([float(f) for f in fixed if f is not None], truth) if calibration is not None else None
    ms = sum(c.ms for c in counts) / len(counts) if counts else 0.0
    return EvalResult(method, errors, ms, counts, calibrated)
