"""The combination rule on hand-made density maps: density outside person boxes, and hidden
heads inside small boxes."""

from __future__ import annotations

import numpy as np
import pytest

from vigil.crowd.combine import combined_count, split_density
from vigil.crowd.density import DensityMap


def density_map(blobs: list[tuple[int, int, float]]) -> DensityMap:
    """A 1024×768 frame's map at CSRNet 384 px (48×36 cells of 21.3 frame px), people at cells."""
    density = np.zeros((36, 48), np.float32)
    for row, col, people in blobs:
        density[row : row + 2, col : col + 2] += people / 4  # one person over 2×2 cells
    return DensityMap(density, 1024, 768, 0.0)


def test_density_counts_outside_boxes_and_not_below_the_floor() -> None:
    dmap = density_map([(5, 5, 1.0), (20, 30, 1.0)])
    dmap.density[30:, :] += 0.01  # diffuse background under the floor
    boxes = np.array([[100.0, 100.0, 160.0, 300.0]], np.float32)  # a large near person over the first blob
    parts = split_density(dmap, boxes, floor=0.03)
    assert combined_count(1, parts) == pytest.approx(2.0)  # the box, plus the second blob


def test_a_small_far_box_counts_the_people_hidden_in_it() -> None:
    # Three heads' worth of density inside one 60 px tall box (22 px in CSRNet's 384 px input).
    dmap = density_map([(10, 10, 1.0), (10, 12, 1.0), (10, 14, 1.0)])
    small = np.array([[180.0, 200.0, 330.0, 260.0]], np.float32)
    assert combined_count(1, split_density(dmap, small, 0.03, hidden_heads_px=32)) == pytest.approx(3.0)
    assert combined_count(1, split_density(dmap, small, 0.03, hidden_heads_px=0)) == pytest.approx(1.0)
    # The same density under a 200 px tall (near) box: CSRNet over-counts near people, one it is.
    tall = np.array([[180.0, 100.0, 330.0, 300.0]], np.float32)
    assert combined_count(1, split_density(dmap, tall, 0.03, hidden_heads_px=32)) == pytest.approx(1.0)
    # A small box holding less than one person's density still counts one, never less.
    one = density_map([(10, 10, 0.6)])
    assert combined_count(1, split_density(one, small, 0.03, hidden_heads_px=32)) == pytest.approx(1.0)


def test_hidden_heads_stay_where_they_are_for_zone_masks() -> None:
    dmap = density_map([(10, 10, 1.0), (10, 12, 1.0)])
    parts = split_density(dmap, np.array([[200.0, 200.0, 300.0, 260.0]], np.float32), 0.03, 32)
    inside = np.zeros(parts.residual.shape, bool)
    inside[8:14, 8:16] = True
    assert combined_count(0, parts, inside) == pytest.approx(1.0)
    assert combined_count(0, parts, ~inside) == pytest.approx(0.0)
