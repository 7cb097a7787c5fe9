"""Frames carried by stable tracks (``RegionPolicy.detect_every``) in the camera pipeline: the
detector is skipped only while everything that moved is inside a live track, never with a
feature stage on (what fewer looks would cost faces, plates or crowd is not measured)."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from vigil.config.tracker import TrackerConfig
from vigil.core.classes import COCO_NAMES
from vigil.core.detections import Detections
from vigil.core.frame import BGRImage, Frame
from vigil.detect.regions import PixelBox, RegionChooser, RegionPolicy
from vigil.events import AnyEvent
from vigil.workers.pipeline import CameraPipeline
from vigil.workers.stages import StageInput

W, H = 800, 600
WALKER = (0.5, 0.5, 0.6, 0.7)


class OnePerson:
    """A detector that finds one person walking right, and counts its calls."""

    class_names = COCO_NAMES

    def __init__(self) -> None:
        self.calls = 0
        self.x = 400.0

    def detect(self, image: BGRImage) -> Detections:
        self.calls += 1
        self.x += 4
        return Detections(
            xyxy=np.asarray([[self.x, 300, self.x + 80, 420]], np.float32),
            confidence=np.asarray([0.9], np.float32),
            class_id=np.asarray([0], np.int64),
        )

    def detect_regions(self, image: BGRImage, regions: tuple[PixelBox, ...]) -> Detections:
        return self.detect(image)


class Watching:
    name = "watching"

    def __init__(self) -> None:
        self.seen = 0

    def process(self, inp: StageInput) -> list[AnyEvent]:
        self.seen += 1
        return []

    def finish(self) -> list[AnyEvent]:
        return []


def _run(stages: list[Watching]) -> tuple[OnePerson, RegionChooser, list[int]]:
    detector = OnePerson()
    chooser = RegionChooser(RegionPolicy(detect_every=2))
    pipeline = CameraPipeline("cam", detector, TrackerConfig(), 5.0, (0,), None, stages=stages, regions=chooser)
    image = np.zeros((H, W, 3), np.uint8)
    tracked = []
    for i in range(10):
        motion = None if i == 0 else WALKER
        frame = Frame("cam", i, i * 0.2, datetime(2026, 1, 1, tzinfo=UTC), image, motion_box=motion)
        tracked.append(len(pipeline.process(frame).tracked))
    return detector, chooser, tracked


def test_a_stable_track_is_detected_every_other_frame_and_carried_between() -> None:
    detector, chooser, tracked = _run([])
    assert chooser.skipped >= 3
    assert detector.calls + chooser.skipped == 10
    assert tracked[-1] == 1  # the carried frames keep the track's box


def test_with_a_stage_on_every_frame_is_detected() -> None:
    stage = Watching()
    detector, chooser, _ = _run([stage])
    assert chooser.skipped == 0 and detector.calls == 10 and stage.seen == 10
