"""Unit tests of matching, calibration maths, impossible travel and pose (no models)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from vigil.core.errors import InputError
from vigil.faces.quality import yaw_ratio
from vigil.recognise import (
    Gallery,
    GalleryEntry,
    PairScores,
    Sighting,
    calibrate,
    equal_error_rate,
    haversine_km,
    impossible_travel,
    operating_point,
)

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)


def unit(v: list[float]) -> np.ndarray:
    a = np.zeros(128, np.float32)
    a[: len(v)] = v
    return a / np.linalg.norm(a)


def test_gallery_matches_one_subject_and_respects_threshold_and_expiry() -> None:
    g = Gallery(
        [
            GalleryEntry("a", "ra.jpg", unit([1, 0]), NOW + timedelta(days=1)),
            GalleryEntry("b", "rb.jpg", unit([0.8, 0.6]), NOW + timedelta(days=1)),
            GalleryEntry("c", "rc.jpg", unit([0, 1]), NOW - timedelta(seconds=1)),
        ]
    )
    m = g.match(unit([1, 0.1]), 0.5, NOW)
    assert m is not None and m.subject_id == "a" and m.reference_media == "ra.jpg"
    assert g.match(unit([1, 0.1]), 0.999, NOW) is None
    assert g.match(unit([0, 1]), 0.9, NOW) is None  # c expired: never matches
    assert g.match(unit([1, 0]), 0.5, NOW + timedelta(days=2)) is None  # everything expired now
    assert Gallery([]).match(unit([1]), 0.0, NOW) is None


def test_gallery_rejects_wrong_dimension() -> None:
    with pytest.raises(ValueError, match="shape"):
        Gallery([GalleryEntry("a", "r", unit([1]), NOW)]).scores(np.ones(64, np.float32))


def test_operating_point_and_eer() -> None:
    scores = PairScores(
        genuine=np.array([0.9, 0.8, 0.7, 0.35], np.float32),
        impostor=np.linspace(-0.2, 0.4, 1000).astype(np.float32),
    )
    p = operating_point(scores, 1e-2)
    assert p.measured_fmr <= 1e-2 and p.tar == 0.75 and p.supported
    assert not operating_point(scores, 1e-3).supported  # 1,000 impostors: 1 expected false match
    eer, _ = equal_error_rate(scores)
    assert 0 < eer < 0.3
    separated = PairScores(np.array([0.9, 0.8], np.float32), np.array([0.1, 0.2], np.float32))
    assert equal_error_rate(separated)[0] == 0.0


@pytest.mark.parametrize(
    ("embeddings", "message"),
    [
        ({}, "at least two identities"),
        ({"a": [unit([1])]}, "at least two identities"),
        ({"a": [unit([1])], "b": [unit([0, 1])]}, "genuine pair"),
    ],
)
def test_calibrate_refuses_too_little(embeddings: dict[str, list[np.ndarray]], message: str) -> None:
    with pytest.raises(InputError, match=message):
        calibrate(embeddings, embedder="x", n_images=2, n_no_face=0)


def test_impossible_travel() -> None:
    london, paris = (51.5072, -0.1276), (48.8566, 2.3522)
    assert 330 < haversine_km(*london, *paris) < 350
    a = Sighting("a", NOW, *london)
    fast = Sighting("b", NOW + timedelta(minutes=10), *paris)
    slow = Sighting("b", NOW + timedelta(hours=5), *paris)
    detail = impossible_travel(a, fast, 150)
    assert detail is not None and "km/h" in detail and "camera a" in detail
    assert impossible_travel(a, slow, 150) is None
    assert impossible_travel(a, Sighting("a", NOW, *paris), 150) is None  # same camera


def test_yaw_ratio_frontal_and_turned() -> None:
    frontal = np.array([[30, 40], [70, 40], [50, 60], [35, 80], [65, 80]], np.float32)
    turned = frontal.copy()
    turned[2, 0] = 78
    assert yaw_ratio(frontal) < 0.05
    assert yaw_ratio(turned) > 0.6
