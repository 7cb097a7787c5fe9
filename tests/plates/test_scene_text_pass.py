"""The scene text detector's own pass (real PP-OCR detector, real US scenes).

Vigil runs rapidocr's detector graph itself for whole scenes: the full pass must give exactly
rapidocr's boxes; the coarse-first pass (tried, off by default) must still find these plates' lines
while the full-resolution pass reads only part of the frame.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vigil.plates.eval import load_labels, read_image
from vigil.plates.localise import box_iou
from vigil.plates.ocr import RapidTextEngine

SCENES = ("car12.jpg", "car11.jpg", "car5.jpg")


@pytest.fixture(scope="module")
def scenes(shared_data: Path) -> list[tuple[np.ndarray, tuple[float, float, float, float]]]:
    folder = shared_data / "plates" / "us"
    if not folder.is_dir():
        pytest.skip(f"labelled plates not found at {folder}")
    _, items = load_labels(folder)
    chosen = [i for i in items if i.image.name in SCENES]
    assert len(chosen) == len(SCENES)
    return [(read_image(i.image), i.box) for i in chosen if i.box is not None]


@pytest.mark.slow
def test_own_full_pass_gives_rapidocrs_boxes(
    scenes: list[tuple[np.ndarray, tuple[float, float, float, float]]],
) -> None:
    theirs, ours = RapidTextEngine(coarse=None), RapidTextEngine(coarse=0)
    for image, _ in scenes:
        for side in (None, 640):
            a, b = theirs.detect_scene_lines(image, side), ours.detect_scene_lines(image, side)
            assert len(a) == len(b) > 0
            assert all(np.array_equal(p, q) for p, q in zip(a, b, strict=True))
    # A frame rapidocr pads or resizes first keeps its pipeline (and so its boxes).
    wide = np.ascontiguousarray(np.tile(scenes[0][0][300:380], (1, 3, 1)))  # 80 px high, > 8:1
    a, b = theirs.detect_scene_lines(wide), ours.detect_scene_lines(wide)
    assert len(a) == len(b) and all(np.array_equal(p, q) for p, q in zip(a, b, strict=True))


@pytest.mark.slow
def test_coarse_pass_finds_the_plate_line_in_part_of_the_frame(
    scenes: list[tuple[np.ndarray, tuple[float, float, float, float]]],
) -> None:
    engine = RapidTextEngine(coarse=0.5)  # tried, not the default (docs/plates.md)
    engine.coarse_margin = 0  # the narrow windows of the variant that saved most time
    det = engine._engine._load_det_model()
    for image, plate in scenes:
        lines = engine.detect_scene_lines(image)
        boxes = [(*q.min(axis=0), *q.max(axis=0)) for q in lines]
        assert max(box_iou(b, plate) for b in boxes) > 0.3
        full = engine._det_input(det, image, 960)
        assert full is not None
        windows = engine._windows(det, image, full.shape[2:], 480, ())
        assert windows is not None  # the full pass does not read the whole frame
        area = sum((x2 - x1) * (y2 - y1) for x1, y1, x2, y2 in windows)
        assert 0 < area < full.shape[2] * full.shape[3]
    # A seed is looked at even where the coarse pass saw no text (here: nothing counts as text).
    engine.coarse_threshold = 1.0
    image, plate = scenes[0]
    full = engine._det_input(det, image, 960)
    assert full is not None
    assert engine._windows(det, image, full.shape[2:], 480, ()) == []
    assert engine._windows(det, image, full.shape[2:], 480, [plate]) != []
    assert engine.detect_scene_lines(image, seeds=[plate])  # its line is found from the seed alone
