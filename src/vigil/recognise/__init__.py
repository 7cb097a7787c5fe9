"""Watchlist matching (in-memory gallery), calibration of thresholds, impossible travel."""

from vigil.recognise.calibration import (
    TARGET_FMRS,
    CalibrationResult,
    OperatingPoint,
    PairScores,
    calibrate,
    equal_error_rate,
    fmr_key,
    operating_point,
    pair_scores,
)
from vigil.recognise.gallery import Gallery, GalleryEntry, GalleryMatch
from vigil.recognise.travel import Sighting, haversine_km, impossible_travel

__all__ = [
    "TARGET_FMRS",
    "CalibrationResult",
    "Gallery",
    "GalleryEntry",
    "GalleryMatch",
    "OperatingPoint",
    "PairScores",
    "Sighting",
    "calibrate",
    "equal_error_rate",
    "fmr_key",
    "haversine_km",
    "impossible_travel",
    "operating_point",
    "pair_scores",
]
