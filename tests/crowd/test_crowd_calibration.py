"""Per-camera calibration: the fit, its limits, and how it places people by row."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vigil.core.errors import InputError
from vigil.crowd.calibration import (
    MAX_FACTOR,
    MIN_FRAMES,
    CameraCalibration,
    LabelledCount,
    PlacedCount,
    check_calibration,
    fit_calibration,
)


def frame(counted_rows: list[float], truth_rows: list[float], people: float = 1.0) -> LabelledCount:
    return LabelledCount(
        PlacedCount(np.array(counted_rows, dtype=np.float64), np.full(len(counted_rows), people)),
        np.array(truth_rows, dtype=np.float64),
    )


def test_one_band_is_the_ratio_of_labelled_to_counted_people_shrunk_to_one_frame_factor() -> None:
    # Every frame: the counter sees 8 people, 10 are labelled.
    frames = [frame([0.5] * 8, [0.5] * 10) for _ in range(12)]
    cal = fit_calibration(frames, bands=1)
    assert cal.factors == pytest.approx((10 / 8,))
    assert cal.apply(frames[0].counted) == pytest.approx(10.0)


def test_bands_correct_the_rows_where_the_counter_errs() -> None:
    # Far rows (top) under-counted by half, near rows (bottom) right.
    frames = [frame([0.1] * 5 + [0.9] * 10, [0.1] * 10 + [0.9] * 10) for _ in range(15)]
    cal = fit_calibration(frames, bands=2)
    top, bottom = cal.factors
    assert top > 1.8 and bottom == pytest.approx(1.0, abs=0.1)
    check = check_calibration(frames, cal)
    assert check.mae_before == pytest.approx(5.0)
    assert check.mae_after < 0.5 and check.mae_held_out < 0.5


def test_a_band_with_few_people_keeps_close_to_the_whole_frame_factor() -> None:
    # Over all frames the counter put one person in the top band where nobody is labelled: the
    # raw factor there would be 0; shrunk, it stays near the whole frame's (about 1).
    frames = [frame([0.9] * 10, [0.9] * 10) for _ in range(11)] + [frame([0.9] * 10 + [0.1], [0.9] * 10)]
    cal = fit_calibration(frames, bands=2)
    assert 0.9 < cal.factors[0] < 1.0
    assert cal.factors[1] == pytest.approx(1.0, abs=0.01)


@pytest.mark.parametrize(
    ("frames", "message"),
    [
        (
            [frame([0.5] * 10, [0.5] * 10)] * (MIN_FRAMES - 1),
            r"9 labelled frames given; a calibration needs at least 10",
        ),
        ([frame([0.5], [0.5])] * MIN_FRAMES, r"hold 10 labelled people; a calibration needs at least 20"),
        ([frame([], [0.5] * 3)] * MIN_FRAMES, r"found nobody"),
    ],
)
def test_too_little_to_fit_is_one_clear_error(frames: list[LabelledCount], message: str) -> None:
    with pytest.raises(InputError, match=message):
        fit_calibration(frames)


def test_factors_are_bounded_and_round_trip_through_json() -> None:
    frames = [frame([0.5], [0.5] * 30) for _ in range(10)]  # 30x under-counted
    cal = fit_calibration(frames)
    assert cal.factors == (MAX_FACTOR,)
    assert CameraCalibration.from_json_dict(cal.to_json_dict()) == cal
    with pytest.raises(ValueError, match="unknown calibration kind"):
        CameraCalibration.from_json_dict({"kind": "magic", "factors": [1.0]})
    with pytest.raises(ValueError, match="must lie in"):
        CameraCalibration((0.0,))


def test_rows_outside_the_frame_take_the_nearest_band() -> None:
    cal = CameraCalibration((2.0, 0.5))
    np.testing.assert_allclose(cal.factor_at(np.array([-0.1, 0.2, 0.7, 1.0, 1.3])), [2.0, 2.0, 0.5, 0.5, 0.5])
    assert math.isclose(cal.apply(PlacedCount(np.array([0.1, 0.9]), np.array([1.0, 4.0]))), 4.0)
