"""Crowd-counting data in the ShanghaiTech layout, and the error metrics.

``DIR/images/IMG_n.jpg`` with its head points in ``DIR/ground-truth/GT_IMG_n.mat``
(ShanghaiTech: ``image_info[0, 0][0, 0][0]`` is an ``(N, 2)`` array of x, y) or
``DIR/ground-truth/GT_IMG_n_points.csv`` (header ``x,y``, one head per row).
"""

from __future__ import annotations

import csv
import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.io
from numpy.typing import NDArray

from vigil.core.errors import InputError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


@dataclass(frozen=True, slots=True)
class LabelledImage:
    """One image and the path of its head annotations."""

    image: Path
    truth: Path


def _truth_for(image: Path) -> Path:
    gt_dir = image.parent.parent / "ground-truth"
    for candidate in (gt_dir / f"GT_{image.stem}.mat", gt_dir / f"GT_{image.stem}_points.csv"):
        if candidate.is_file():
            return candidate
    raise InputError(
        f"{image}: no ground truth; expected {gt_dir / f'GT_{image.stem}.mat'} or GT_{image.stem}_points.csv"
    )


def _natural(path: Path) -> tuple[str, int]:
    stem, _, number = path.stem.rpartition("_")
    return (stem, int(number)) if number.isdigit() else (path.stem, -1)


def list_images(root: Path) -> list[LabelledImage]:
    """Every labelled image under ``root`` (ShanghaiTech layout), in natural order.

    Raises:
        InputError: no ``images`` folder, no images, or an image without ground truth.
    """
    images_dir = root / "images"
    if not images_dir.is_dir():
        raise InputError(f"{root}: not a crowd data set; expected {images_dir} (ShanghaiTech layout)")
    images = sorted((p for p in images_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES), key=_natural)
    if not images:
        raise InputError(f"{images_dir}: no images ({', '.join(IMAGE_SUFFIXES)})")
    return [LabelledImage(image, _truth_for(image)) for image in images]


def _mat_points(path: Path) -> NDArray[np.float64]:
    try:
        mat: dict[str, Any] = scipy.io.loadmat(str(path))
    except (OSError, ValueError, TypeError, IndexError, KeyError, NotImplementedError) as exc:
        raise InputError(f"{path}: unreadable .mat file ({type(exc).__name__}: {exc})") from exc
    try:
        points = np.asarray(mat["image_info"][0, 0][0, 0][0], dtype=np.float64)
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise InputError(
            f"{path}: not ShanghaiTech ground truth (expected image_info[0,0][0,0][0] as an (N, 2) array)"
        ) from exc
    if points.size == 0:
        return np.zeros((0, 2), dtype=np.float64)
    if points.ndim != 2 or points.shape[1] < 2:
        raise InputError(f"{path}: head points have shape {points.shape}; expected (N, 2)")
    return points[:, :2]


def _csv_points(path: Path) -> NDArray[np.float64]:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = [row for row in csv.reader(handle) if row]
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: unreadable ({exc})") from exc
    if rows and [c.strip().lower() for c in rows[0][:2]] == ["x", "y"]:
        rows = rows[1:]
    try:
        points = np.array([[float(r[0]), float(r[1])] for r in rows], dtype=np.float64)
    except (ValueError, IndexError) as exc:
        raise InputError(f"{path}: expected rows of x,y numbers ({exc})") from exc
    return points.reshape(-1, 2)


def head_points(truth: Path) -> NDArray[np.float64]:
    """The annotated head points ``(N, 2)`` of one image.

    Raises:
        InputError: the file is unreadable or not in a known format; the message names it.
    """
    if truth.suffix.lower() == ".mat":
        return _mat_points(truth)
    if truth.suffix.lower() == ".csv":
        return _csv_points(truth)
    raise InputError(f"{truth}: unknown ground-truth format (expected .mat or .csv)")


def iter_truth(root: Path) -> Iterator[tuple[LabelledImage, int]]:
    """Each labelled image with its true count."""
    for item in list_images(root):
        yield item, int(head_points(item.truth).shape[0])


@dataclass(frozen=True, slots=True)
class CountErrors:
    """Count error over a set of images."""

    n: int
    mae: float
    rmse: float
    bias: float
    """Mean signed error (prediction − truth): < 0 means undercounting."""


def count_errors(predicted: Sequence[float], truth: Sequence[float]) -> CountErrors:
    """MAE, RMSE and bias of predicted counts against the true counts."""
    if len(predicted) != len(truth):
        raise ValueError(f"{len(predicted)} predictions for {len(truth)} images")
    if not predicted:
        return CountErrors(0, math.nan, math.nan, math.nan)
    err = np.asarray(predicted, dtype=np.float64) - np.asarray(truth, dtype=np.float64)
    return CountErrors(len(err), float(np.abs(err).mean()), float(np.sqrt((err**2).mean())), float(err.mean()))


CROWD_BANDS: tuple[int, ...] = (20, 100)
"""Edges of the crowd-size bands errors are reported by: fewer than 20 people, 20-99, 100 or more
(by the true count)."""


def band_labels(edges: Sequence[int] = CROWD_BANDS) -> list[str]:
    """``["<20", "20-99", ">=100"]`` for edges ``(20, 100)``: band ``k`` holds true counts in
    ``[edges[k-1], edges[k])``."""
    inner = [f"{lo}-{hi - 1}" for lo, hi in itertools.pairwise(edges)]
    return [f"<{edges[0]}", *inner, f">={edges[-1]}"]


def errors_by_band(
    predicted: Sequence[float], truth: Sequence[float], edges: Sequence[int] = CROWD_BANDS
) -> dict[str, CountErrors]:
    """Count errors per band of the *true* count (:func:`band_labels`), so a user sees where the
    counter fails. A band without images has ``n == 0`` and NaN errors."""
    if len(predicted) != len(truth):
        raise ValueError(f"{len(predicted)} predictions for {len(truth)} images")
    if not edges or list(edges) != sorted(set(edges)):
        raise ValueError(f"band edges must be increasing and distinct, got {list(edges)}")
    band = np.searchsorted(np.asarray(edges), np.asarray(truth, dtype=np.float64), side="right")
    return {
        label: count_errors(
            [p for p, b in zip(predicted, band, strict=True) if b == k],
            [t for t, b in zip(truth, band, strict=True) if b == k],
        )
        for k, label in enumerate(band_labels(edges))
    }
