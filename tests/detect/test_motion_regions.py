"""Detection in motion regions: the gate's motion box on real frames, the crop a camera's
chooser picks, and YOLOX-Nano on a crop finding what it finds in the whole frame."""

from __future__ import annotations

import dataclasses
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
    assert crop == ((360, 260, 520, 460),)  # 400-480 x 300-420 plus 40 px (5% of 800)
    tracked = np.asarray([[100, 100, 150, 200]], np.float32)
    assert chooser.choose(w, h, 0.4, motion, tracked) == ((60, 60, 520, 460),)
    assert chooser.choose(w, h, 0.6, None, tracked) is None  # keepalive frame: no motion box
    assert chooser.choose(w, h, 0.8, motion, NO_TRACKS) is not None
    assert chooser.choose(w, h, 2.6, motion, NO_TRACKS) is None  # 2 s since the last whole look
    assert chooser.choose(w, h, 2.8, (0.0, 0.0, 0.9, 0.9), NO_TRACKS) is None  # most of the frame
    assert chooser.choose(w, h, 1.0, motion, NO_TRACKS) is None  # pts went back (reconnect)
    assert (chooser.crops, chooser.full) == (3, 5)
    with pytest.raises(ValueError, match="max_share"):
        RegionPolicy(max_share=0)
    with pytest.raises(ValueError, match="max_crops"):
        RegionPolicy(max_crops=0)


def test_places_far_apart_are_separate_crops_up_to_max_crops() -> None:
    w, h = 800, 600
    policy = RegionPolicy(margin=0.05, max_share=0.6, full_every_s=2.0, max_crops=2)
    chooser = RegionChooser(policy)
    assert chooser.choose(w, h, 0.0, (0.0, 0.0, 1.0, 1.0), NO_TRACKS) is None
    # Two walkers at opposite corners: one crop would be most of the frame; two are small.
    corners = ((0.05, 0.05, 0.15, 0.25), (0.85, 0.75, 0.95, 0.95))
    motion = (0.05, 0.05, 0.95, 0.95)
    assert RegionChooser(dataclasses.replace(policy, max_crops=1)).choose(w, h, 0.0, motion, NO_TRACKS) is None
    crops = chooser.choose(w, h, 0.2, motion, NO_TRACKS, corners)
    assert crops is not None and sorted(crops) == [(0, 0, 160, 190), (640, 410, 800, 600)]
    # A track beside the first walker joins its crop (grown boxes overlap); a third place far from
    # both is joined to the crop it adds least area to, so there are still two.
    tracked = np.asarray([[150, 50, 200, 150]], np.float32)
    crops = chooser.choose(w, h, 0.4, motion, tracked, corners)
    assert crops is not None and sorted(crops) == [(0, 0, 240, 190), (640, 410, 800, 600)]
    third = (*corners, (0.85, 0.05, 0.95, 0.15))
    crops = chooser.choose(w, h, 0.6, motion, NO_TRACKS, third)
    assert crops is not None and len(crops) == 2 and (640, 0, 800, 600) in crops
    assert (chooser.crops, chooser.full, chooser.crop_calls) == (3, 1, 6)


def test_stable_tracks_are_detected_every_kth_frame_only_while_nothing_else_moves() -> None:
    w, h = 800, 600
    chooser = RegionChooser(RegionPolicy(margin=0.05, max_share=0.6, full_every_s=2.0, detect_every=3))
    walker = np.asarray([[400, 300, 480, 420]], np.float32)
    on_walker = (0.5, 0.5, 0.6, 0.7)
    assert chooser.choose(w, h, 0.0, None, NO_TRACKS) is None  # a whole look first
    # Tracked and moving only where the track is: two frames carried, the third detected.
    assert [chooser.skip(w, h, t, on_walker, walker) for t in (0.2, 0.4, 0.6, 0.8)] == [True, True, False, True]
    assert not chooser.skip(w, h, 1.0, on_walker, NO_TRACKS)  # nothing tracked
    assert not chooser.skip(w, h, 1.2, (0.0, 0.0, 0.2, 0.2), walker)  # something moved elsewhere
    parts = (on_walker, (0.0, 0.0, 0.05, 0.05))
    assert not chooser.skip(w, h, 1.4, (0.0, 0.0, 0.6, 0.7), walker, parts)  # one part elsewhere
    assert not chooser.skip(w, h, 1.6, None, walker)  # a keepalive frame
    assert not chooser.skip(w, h, 2.2, on_walker, walker)  # a whole look is due
    assert chooser.skipped == 3
    assert not RegionChooser().skip(w, h, 0.2, on_walker, walker)  # detect_every 1: never
    with pytest.raises(ValueError, match="detect_every"):
        RegionPolicy(detect_every=0)


def test_the_gate_reports_separate_changed_places(vtest_frame: NDArray[np.uint8]) -> None:
    gate = MotionGate(keepalive_s=None)
    gate.should_analyse(vtest_frame, 0.0)
    moved = vtest_frame.copy()
    moved[20:120, 20:90] = vtest_frame[300:400, 100:170]
    moved[420:560, 650:740] = vtest_frame[300:440, 300:390]
    assert gate.should_analyse(moved, 0.2)
    parts = np.asarray(gate.last_motion_parts) * [768, 576, 768, 576]
    # A patch may change in several pieces (only pixels that differ enough count); the chooser's
    # margin joins pieces of one place. Every piece lies in one patch (a few gate cells of slack).
    patches = np.asarray([[20, 20, 90, 120], [650, 420, 740, 560]], np.float64)
    slack = np.asarray([-25, -25, 25, 25])
    within = [
        [bool(np.all(part[:2] >= (p + slack)[:2]) and np.all(part[2:] <= (p + slack)[2:])) for p in patches]
        for part in parts
    ]
    assert all(any(w) for w in within), parts
    assert all(any(w[i] for w in within) for i in range(2)), parts
    assert gate.last_motion_box is not None
    gate.reset()
    assert gate.last_motion_parts == ()


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


def test_two_crops_find_what_the_whole_frame_finds_in_each(yolox_path: Path, vtest_frame: NDArray[np.uint8]) -> None:
    detector = YoloxDetector(yolox_path, confidence=0.3, class_ids=[0])
    whole = detector.detect(vtest_frame)
    # The two groups of walkers on the test frame (x 160-350 and x 580-645), apart.
    regions = ((100, 60, 380, 360), (520, 80, 740, 320))
    crops = detector.detect_regions(vtest_frame, regions)
    m = 40
    inside = np.zeros(len(whole), bool)
    for x1, y1, x2, y2 in regions:
        inside |= (
            (whole.xyxy[:, 0] >= x1 + m)
            & (whole.xyxy[:, 1] >= y1 + m)
            & (whole.xyxy[:, 2] <= x2 - m)
            & (whole.xyxy[:, 3] <= y2 - m)
        )
    assert inside.sum() >= 5, "the regions should hold most of the frame's walkers"
    best = box_iou(whole.xyxy[inside], crops.xyxy).max(axis=1)
    assert np.all(best >= 0.85) and np.median(best) >= 0.95, best
    # Nothing found twice: each crop box is a different one of the whole frame's.
    matched = box_iou(crops.xyxy, whole.xyxy).argmax(axis=1)
    assert len(set(matched.tolist())) == len(crops), crops.xyxy
