"""Tiled person detection for crowd counting: tile layout, merging across tiles, settings."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from vigil.config.crowd import DEFAULT_COUNT_TILES, DEFAULT_DENSITY_FLOOR, CrowdConfig
from vigil.core.frame import BGRImage
from vigil.crowd.combine import DENSITY_FLOOR
from vigil.crowd.geometry import FloatArray
from vigil.crowd.tiling import TILE_OVERLAP, merge_tile_boxes, tile_origins, tiled


def _boxes(*rows: tuple[float, float, float, float]) -> FloatArray:
    return np.array(rows, dtype=np.float32).reshape(-1, 4)


def test_tiles_cover_the_frame_with_the_overlap() -> None:
    tiles = tile_origins(1024, 768, 2)
    assert len(tiles) == 4
    assert {(x, y) for x, y, _, _ in tiles} == {(0, 0), (1024 - 615, 0), (0, 768 - 461), (1024 - 615, 768 - 461)}
    for x, y, w, h in tiles:
        assert x + w <= 1024 and y + h <= 768
    _, _, w, h = tiles[0]
    assert 2 * w - 1024 >= TILE_OVERLAP * 1024 - 1  # neighbouring tiles share 20 % of the side
    assert 2 * h - 768 >= TILE_OVERLAP * 768 - 1
    assert tile_origins(640, 480, 1) == [(0, 0, 640, 480)]
    assert len(tile_origins(640, 480, 3)) == 9


@pytest.mark.parametrize(("grid", "overlap"), [(0, 0.2), (2, -0.1), (2, 1.0)])
def test_bad_tile_arguments_are_refused(grid: int, overlap: float) -> None:
    with pytest.raises(ValueError, match=r"grid|overlap"):
        tile_origins(100, 100, grid, overlap)


def test_merge_keeps_new_people_and_drops_views_of_known_ones() -> None:
    frame = _boxes((100, 100, 200, 400))
    tiles = _boxes(
        (102, 98, 201, 398),  # the same person seen in a tile (IoU ≈ 0.97)
        (100, 100, 200, 250),  # the same person cut by a tile edge (inside the frame box)
        (500, 50, 520, 100),  # a small, far person only the tile found
        (500, 50, 520, 80),  # that person cut by another tile's edge
    )
    merged = merge_tile_boxes(frame, tiles)
    assert merged.shape == (2, 4)
    np.testing.assert_allclose(merged[1], [500, 50, 520, 100])
    assert merge_tile_boxes(frame, _boxes()).shape == (1, 4)
    assert merge_tile_boxes(_boxes(), _boxes((1, 1, 5, 5))).shape == (1, 4)


def _blob_detector(image: BGRImage) -> FloatArray:
    """A fake detector: one box around each white pixel block (the test images hold at most one)."""
    ys, xs = np.nonzero(image[:, :, 0] > 200)
    if xs.size == 0:
        return _boxes()
    return _boxes((float(xs.min()), float(ys.min()), float(xs.max()) + 1, float(ys.max()) + 1))


def test_tiled_detector_maps_tile_boxes_back_to_the_frame() -> None:
    image = np.zeros((100, 200, 3), dtype=np.uint8)
    image[70:80, 150:160] = 255  # lies in the bottom-right tile only, and in the whole frame
    boxes = tiled(_blob_detector, 2)(image)
    assert boxes.shape == (1, 4)  # the frame's and the tile's view merged into one
    np.testing.assert_allclose(boxes[0], [150, 70, 160, 80])
    assert tiled(_blob_detector, 1) is _blob_detector


def test_tiled_detector_finds_what_only_a_tile_sees() -> None:
    seen: list[tuple[int, ...]] = []

    def small_only(image: BGRImage) -> FloatArray:
        seen.append(image.shape)
        # stands for "too small at the whole frame's scale": found only in the magnified tiles
        return _blob_detector(image) if image.shape[1] < 200 else _boxes()

    image = np.zeros((100, 200, 3), dtype=np.uint8)
    image[10:20, 10:20] = 255
    boxes = tiled(small_only, 2)(image)
    assert len(seen) == 5  # 4 tiles + the whole frame
    np.testing.assert_allclose(boxes, [[10, 10, 20, 20]])


def test_counting_settings_have_bounds_and_documented_defaults() -> None:
    cfg = CrowdConfig()
    assert cfg.count_tiles == DEFAULT_COUNT_TILES == 3
    assert cfg.density_floor == DEFAULT_DENSITY_FLOOR == DENSITY_FLOOR
    assert cfg.density_input_width == 1024 and cfg.near_width == 384
    assert cfg.near_height == 0.25 and cfg.near_ratio == 2.0 and cfg.blend_people == (0.0, 40.0)
    for bad in (
        {"count_tiles": 0},
        {"count_tiles": 5},
        {"density_floor": -0.1},
        {"density_floor": 1.5},
        {"blend_people": [40, 10]},
        {"near_ratio": 0.5},
        {"near_width": 100},
        {"near_min_people": -1},
        {"near_min_people": float("nan")},
        {"near_few_people": -1},
        {"near_few_people": float("nan")},
        {"tail_far_weights": [-0.1, 1]},
        {"tail_far_weights": [0, 0]},
        {"tail_far_weights": [0.3]},
    ):
        with pytest.raises(ValidationError):
            CrowdConfig.model_validate(bad)
    for field in (
        "count_tiles",
        "density_floor",
        "density_input_width",
        "near_height",
        "near_ratio",
        "near_min_people",
        "near_few_people",
        "blend_people",
        "density_tail",
        "tail_far_weights",
    ):
        assert CrowdConfig.model_fields[field].description


def test_counting_detects_with_the_detector_the_rule_was_chosen_with() -> None:
    from vigil.config import VigilConfig
    from vigil.workers.crowd_stage import counting_config

    cfg = VigilConfig()
    assert cfg.crowd.count_detector == "yolov4-tiny"
    assert counting_config(cfg).detector.model == "yolov4-tiny"
    assert counting_config(cfg).detector.model_file == "model-int8.onnx"  # its own default precision
    unpinned = cfg.model_copy(update={"crowd": cfg.crowd.model_copy(update={"count_detector": None})})
    assert counting_config(unpinned).detector.model == cfg.detector.model
