"""What CSRNet is fed: the frame scale (never enlarged), regions at the frame's scale, and the
error bands of ``vigil crowd eval``."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from vigil.crowd.dataset import band_labels, errors_by_band
from vigil.crowd.density import DensityEstimator, frame_scale
from vigil.crowd.geometry import zones_region


class ShapeSession:
    """Stands in for ONNX Runtime: returns a map of the right size with one person per cell row 0."""

    def __init__(self) -> None:
        self.inputs: list[tuple[int, ...]] = []

    def run(self, output_names: Any, input_feed: dict[str, Any]) -> list[Any]:
        blob = input_feed["image"]
        self.inputs.append(tuple(blob.shape))
        return [np.ones((1, 1, blob.shape[2] // 8, blob.shape[3] // 8), np.float32)]


def test_frames_wider_than_the_input_width_are_scaled_down_narrower_ones_are_not_enlarged() -> None:
    session = ShapeSession()
    est = DensityEstimator(session, input_width=640)
    est.estimate(np.zeros((768, 1024, 3), np.uint8))
    est.estimate(np.zeros((480, 640, 3), np.uint8))
    est.estimate(np.zeros((288, 352, 3), np.uint8))
    assert session.inputs == [(1, 3, 480, 640), (1, 3, 480, 640), (1, 3, 288, 352)]
    assert frame_scale(1920, 640) == pytest.approx(1 / 3) and frame_scale(320, 640) == 1.0


def test_a_region_runs_at_the_whole_frames_scale_and_maps_back_to_frame_pixels() -> None:
    session = ShapeSession()
    est = DensityEstimator(session, input_width=640)
    whole = est.estimate(np.zeros((768, 1024, 3), np.uint8))
    part = est.estimate(np.zeros((768, 1024, 3), np.uint8), region=(256, 384, 768, 768))
    assert session.inputs[1] == (1, 3, 240, 320)  # 512x384 frame px at 0.625
    assert part.cell_scale == pytest.approx(whole.cell_scale)
    # Frame pixel (256 + 80, 384 + 40) is 80 x 40 px into the region: 6.25 x 3.125 cells of 12.8 px.
    np.testing.assert_allclose(part.to_cells(np.array([[336.0, 424.0]])), [[6.25, 3.125]])
    assert part.count == pytest.approx(30 * 40)
    with pytest.raises(ValueError, match="not inside"):
        est.estimate(np.zeros((768, 1024, 3), np.uint8), region=(900, 0, 1100, 100))


def test_zones_region_is_the_zones_bounding_box_with_a_margin_or_none_for_most_of_the_frame() -> None:
    left = [(100.0, 200.0), (300.0, 200.0), (300.0, 400.0)]
    right = [(500.0, 250.0), (600.0, 250.0), (600.0, 300.0)]
    assert zones_region([left, right], 1024, 768, 50) == (50, 150, 650, 450)
    assert zones_region([[(0.0, 0.0), (1000.0, 0.0), (1000.0, 700.0)]], 1024, 768, 50) is None
    assert zones_region([], 1024, 768, 50) is None
    assert zones_region([[(5.0, 5.0), (20.0, 5.0), (20.0, 20.0)]], 1024, 768, 50) == (0, 0, 70, 70)


def test_errors_by_band_split_by_the_true_count() -> None:
    assert band_labels() == ["<20", "20-99", ">=100"]
    bands = errors_by_band([1.0, 25.0, 19.0, 150.0, 99.0], [0, 20, 19, 100, 99])
    assert {k: v.n for k, v in bands.items()} == {"<20": 2, "20-99": 2, ">=100": 1}
    assert bands["<20"].mae == pytest.approx(0.5) and bands["20-99"].bias == pytest.approx(2.5)
    assert bands[">=100"].mae == pytest.approx(50.0)
    empty = errors_by_band([5.0], [5])
    assert empty[">=100"].n == 0 and np.isnan(empty[">=100"].mae)
