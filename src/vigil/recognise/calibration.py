"""Verification calibration: genuine and impostor score distributions, EER, TAR at target FMRs.

Thresholds are chosen from a target false-match rate (FMR), never typed in as raw scores:
the threshold for FMR ``f`` is the lowest one at which at most ``floor(f * n_impostor)``
impostor pairs score at or above it. With few impostor pairs a small FMR cannot be
measured: ``supported`` says whether at least ``10 / f`` impostor pairs (ten expected false
matches) stand behind a figure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from vigil.core.errors import InputError

MIN_EXPECTED_FALSE_MATCHES = 10.0
TARGET_FMRS: dict[str, float] = {"1e-2": 1e-2, "1e-3": 1e-3, "1e-4": 1e-4}


@dataclass(frozen=True, slots=True)
class OperatingPoint:
    """The threshold for one target FMR and what it achieves on the labelled set."""

    target_fmr: float
    threshold: float
    measured_fmr: float
    tar: float
    n_genuine: int
    n_impostor: int

    @property
    def supported(self) -> bool:
        """At least 10/FMR impostor pairs (ten expected false matches) stand behind the figure."""
        return self.n_impostor * self.target_fmr >= MIN_EXPECTED_FALSE_MATCHES


@dataclass(frozen=True, slots=True)
class PairScores:
    """Cosine scores of every genuine (same identity) and impostor (different) pair."""

    genuine: NDArray[np.float32]
    impostor: NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class CalibrationResult:
    """What ``vigil calibrate`` measured."""

    embedder: str
    n_images: int
    n_no_face: int
    n_identities: int
    scores: PairScores
    eer: float
    eer_threshold: float
    points: dict[str, OperatingPoint] = field(default_factory=dict)

    @property
    def n_genuine(self) -> int:
        return len(self.scores.genuine)

    @property
    def n_impostor(self) -> int:
        return len(self.scores.impostor)

    def to_json_dict(self) -> dict[str, object]:
        return {
            "n_images": self.n_images,
            "n_no_face": self.n_no_face,
            "n_identities": self.n_identities,
            "n_genuine": self.n_genuine,
            "n_impostor": self.n_impostor,
            "eer": round(self.eer, 6),
            "eer_threshold": round(self.eer_threshold, 6),
            "tar_at_fmr": {k: round(p.tar, 6) for k, p in self.points.items()},
            "threshold_at_fmr": {k: round(p.threshold, 6) for k, p in self.points.items()},
            "measured_fmr": {k: p.measured_fmr for k, p in self.points.items()},
            "fmr_supported": {k: p.supported for k, p in self.points.items()},
            "embedder": self.embedder,
        }


def pair_scores(embeddings: NDArray[np.float32], identities: Sequence[str]) -> PairScores:
    """All genuine and impostor pair scores of (N, D) unit embeddings labelled by ``identities``."""
    n = len(identities)
    if embeddings.shape[0] != n:
        raise ValueError(f"expected {n} embeddings, got {embeddings.shape[0]}")
    sims = embeddings @ embeddings.T
    labels = np.asarray(identities, dtype=object)
    iu = np.triu_indices(n, 1)
    same = labels[iu[0]] == labels[iu[1]]
    values = sims[iu].astype(np.float32)
    return PairScores(genuine=values[same], impostor=values[~same])


def operating_point(scores: PairScores, target_fmr: float) -> OperatingPoint:
    """The lowest threshold whose FMR on ``scores.impostor`` is at most ``target_fmr``."""
    imp = np.sort(scores.impostor)[::-1]
    allowed = math.floor(target_fmr * len(imp))
    if allowed >= len(imp):
        threshold = float(imp[-1]) if len(imp) else 0.0
    else:
        threshold = float(np.nextafter(np.float32(imp[allowed]), np.float32(np.inf)))
    measured = float((scores.impostor >= threshold).mean()) if len(imp) else 0.0
    tar = float((scores.genuine >= threshold).mean()) if len(scores.genuine) else 0.0
    return OperatingPoint(target_fmr, threshold, measured, tar, len(scores.genuine), len(imp))


def equal_error_rate(scores: PairScores) -> tuple[float, float]:
    """(EER, its threshold): where the false-match and false-non-match rates meet."""
    gen, imp = np.sort(scores.genuine), np.sort(scores.impostor)
    thresholds = np.unique(np.concatenate([gen, imp, [np.float32(np.nextafter(imp[-1], np.inf))]]))
    fnmr = np.searchsorted(gen, thresholds, side="left") / len(gen)
    fmr = 1.0 - np.searchsorted(imp, thresholds, side="left") / len(imp)
    i = int(np.argmin(np.abs(fmr - fnmr) + 1e-9 * np.arange(len(thresholds))))
    if fmr[i] == 0.0 and fnmr[i] == 0.0:
        return 0.0, float(thresholds[i])
    return float((fmr[i] + fnmr[i]) / 2), float(thresholds[i])


def calibrate(
    embeddings: Mapping[str, Sequence[NDArray[np.float32]]],
    *,
    embedder: str,
    n_images: int,
    n_no_face: int,
    targets: Mapping[str, float] | None = None,
) -> CalibrationResult:
    """Score every pair of ``embeddings`` (identity → unit vectors) and derive the operating points.

    Raises:
        InputError: fewer than two identities with a face, or no genuine pair.
    """
    with_faces = {k: list(v) for k, v in embeddings.items() if v}
    if len(with_faces) < 2:
        raise InputError(f"calibration needs at least two identities with a detected face; found {len(with_faces)}")
    labels = [k for k, vs in with_faces.items() for _ in vs]
    matrix = np.stack([v for vs in with_faces.values() for v in vs]).astype(np.float32)
    scores = pair_scores(matrix, labels)
    if len(scores.genuine) == 0:
        raise InputError("calibration needs at least one identity with two or more face images (a genuine pair)")
    eer, eer_threshold = equal_error_rate(scores)
    points = {k: operating_point(scores, f) for k, f in (targets or TARGET_FMRS).items()}
    return CalibrationResult(embedder, n_images, n_no_face, len(with_faces), scores, eer, eer_threshold, points)


def fmr_key(fmr: float) -> str:
    """``1e-3`` → "1e-3" (the keys of ``TARGET_FMRS``), anything else as given."""
    for key, value in TARGET_FMRS.items():
        if math.isclose(value, fmr):
            return key
    return f"{fmr:g}"
