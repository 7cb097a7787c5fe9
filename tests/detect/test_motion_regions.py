"""Detection in motion regions: the gate's motion box on real frames, the crop a camera's
chooser picks, and YOLOX-Nano on a crop finding what it finds in the whole frame."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from vigil.camera.motion import MotionGate
from vigil.core.geometry import box_iou
from vigil.detect.regions import RegionChooser, RegionPolicy
from vigil.detect.yolox import YoloxDetector

NO_TRACKS = np.zeros((0, 4), np.float32)


def test_the_motion_box_covers_what_changed_and_little_else(vtest_frame: NDArray[np.uint8]) -> None:
    gate = MotionGate(keepalive_s=None)
    for i in range(5):
        assert gate.should_analyse(vtest_frame, i * 0.2) == (i == 0)
        assert gate.last_motion_box is None
    moved = vtest_frame.copy()
    # A real patch of the street (another place in the frame) pasted at x 400-500, y 200-380.
    moved[200:380, 400:500] = vtest_frame[300:480, 100:200]
    assert gate.should_analyse(moved, 1.0)
    box = gate.last_motion_box
    assert box is not None
    x1, y1, x2, y2 = np.asarray(box) * [768, 576, 768, 576]
    # The gate's copy is 160 px wide (4.8 frame px a pixel) and blurred: a few cells of slack.
    assert x1 <= 400 + 5 and y1 <= 200 + 5 and x2 >= 500 - 5 and y2 >= 380 - 5, (x1, y1, x2, y2)
    assert x1 >= 400 - 25 and y1 >= 200 - 25 and x2 <= 500 + 25 and y2 <= 380 + 25, (x1, y1, x2, y2)
    gate.reset()
    assert gate.last_motion_box is None


def test_the_chooser_crops_around_motion_and_tracks_and_looks_whole_regularly() -> None:
    chooser = RegionChooser(RegionPolicy(margin=0.05, max_share=0.6, full_every_s=2.0))
    w, h = 800, 600
    motion = (0.5, 0.5, 0.6, 0.7)
    assert chooser.choose(w, h, 0.0, motion, NO_TRACKS) is None  # first frame: whole
    crop = chooser.choose(w, h, 0.2, motion, NO_TRACKS)
    assert crop == (360, 260, 520, 460)  # 400-480 x 300-420 plus 40 px (5% of 800)
    tracked = np.asarray([[100, 100, 150, 200]], np.float32)
    assert chooser.choose(w, h, 0.4, motion, tracked) == (60, 60, 520, 460)
    assert chooser.choose(w, h, 0.6, None, tracked) is None  # keepalive frame: no motion box
    assert chooser.choose(w, h, 0.8, motion, NO_TRACKS) is not None
    assert chooser.choose(w, h, 2.6, motion, NO_TRACKS) is None  # 2 s since the last whole look
    assert chooser.choose(w, h, 2.8, (0.0, 0.0, 0.9, 0.9), NO_TRACKS) is None  # most of the frame
    assert chooser.choose(w, h, 1.0, motion, NO_TRACKS) is None  # pts went back (reconnect)
    assert (chooser.crops, chooser.full) == (3, 5)
    with pytest.raises(ValueError, match="max_share"):
        RegionPolicy(max_share=0)


def test_a_crop_finds_the_people_the_whole_frame_finds_there(yolox_path: Path, vtest_frame: NDArray[np.uint8]) -> None:
    detector = YoloxDetector(yolox_path, confidence=0.3, class_ids=[0])
    whole = detector.detect(vtest_frame)
    region = (100, 100, 660, 540)
    crop = detector.detect_region(vtest_frame, region)
    x1, y1, x2, y2 = region
    # People well inside the crop (the chooser adds a margin of 8% of the frame, 61 px here).
    m = 40
    inside = whole.xyxy[
        (whole.xyxy[:, 0] >= x1 + m)
        & (whole.xyxy[:, 1] >= y1 + m)
        & (whole.xyxy[:, 2] <= x2 - m)
        & (whole.xyxy[:, 3] <= y2 - m)
    ]
    assert len(inside) >= 2, "the region should hold some of the frame's walkers"
    # The crop is the region grown to the input's 32 px grid: at most 32 / (416 / 768) = 59 px.
    grid = 32 / (416 / 768)
    assert np.all(crop.xyxy[:, [0, 1]] >= [x1 - grid, y1 - grid])
    assert np.all(crop.xyxy[:, [2, 3]] <= [x2 + grid, y2 + grid])
    # The same people, at the same place in the frame (boxes in whole-frame pixels). The crop is
    # cut on the whole frame's input grid, so the boxes nearly coincide (measured: 0.87-0.99,
    # median 0.98; a crop resized on its own, off the grid, gave 0.78-0.92).
    best = box_iou(inside, crop.xyxy).max(axis=1)
    assert np.all(best >= 0.85) and np.median(best) >= 0.95, best
    with pytest.raises(ValueError, match="not inside"):
        detector.detect_region(vtest_frame, (700, 0, 800, 100))
