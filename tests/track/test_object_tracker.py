"""ObjectTracker (ByteTrack per class) on synthetic boxes moving frame by frame."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pytest

from vigil.config import TrackerConfig
from vigil.core.detections import Detections
from vigil.track import ObjectTracker

FPS = 4.0  # frame times i / 4 are exact binary fractions, so time comparisons are exact
PERSON, CAR = 0, 2

Box = tuple[float, float, float, float]


def detections(*objects: tuple[Box, int], confidence: float = 0.9) -> Detections:
    """``objects`` as ``(box, class id)`` pairs, all with the same score."""
    if not objects:
        return Detections.empty()
    return Detections(
        xyxy=np.array([box for box, _ in objects], dtype=np.float32),
        confidence=np.full(len(objects), confidence, dtype=np.float32),
        class_id=np.array([cid for _, cid in objects], dtype=np.int64),
    )


def tracker(class_ids: Sequence[int] = (PERSON, CAR), **config: float) -> ObjectTracker:
    return ObjectTracker(TrackerConfig(**config), analysis_fps=FPS, class_ids=class_ids)


def walking(start: Box, step_px: float, frames: int) -> list[Box]:
    """A box moving right by ``step_px`` per frame."""
    x1, y1, x2, y2 = start
    return [(x1 + i * step_px, y1, x2 + i * step_px, y2) for i in range(frames)]


def run(trk: ObjectTracker, frames: Iterable[Detections], t0_s: float = 0.0) -> list[Detections]:
    return [trk.update(dets, t0_s + i / FPS) for i, dets in enumerate(frames)]


def test_one_object_moving_smoothly_keeps_one_id_for_50_frames() -> None:
    path = walking((20, 100, 80, 260), step_px=8, frames=50)
    out = run(tracker(), [detections((box, PERSON)) for box in path])
    # min_consecutive_frames=2: the first sighting is not yet a confirmed track
    assert len(out[0]) == 0
    assert all(len(o) == 1 for o in out[1:])
    assert {int(o.tracker_id[0]) for o in out[1:]} == {1}
    # the boxes handed back are the detector's, not the Kalman prediction
    np.testing.assert_allclose(out[-1].xyxy[0], path[-1])
    assert (out[-1].class_id == PERSON).all()


@pytest.mark.parametrize(
    "min_consecutive_frames",
    [
        2,
        3,
    ],
)
def test_a_track_is_confirmed_after_min_consecutive_frames(min_consecutive_frames: int) -> None:
    path = walking((20, 100, 80, 260), step_px=5, frames=6)
    trk = tracker(min_consecutive_frames=min_consecutive_frames)
    out = run(trk, [detections((b, PERSON)) for b in path])
    assert [len(o) for o in out] == [0] * (min_consecutive_frames - 1) + [1] * (7 - min_consecutive_frames)


def test_two_objects_of_different_classes_never_share_an_id() -> None:
    # a person walking past a parked car, their boxes overlapping half the time
    person = walking((0, 100, 60, 260), step_px=10, frames=40)
    car = (150.0, 120.0, 350.0, 250.0)
    out = run(tracker(), [detections((p, PERSON), (car, CAR)) for p in person])
    ids_by_class: dict[int, set[int]] = {PERSON: set(), CAR: set()}
    for frame_out in out[1:]:
        assert sorted(frame_out.class_id.tolist()) == [PERSON, CAR]
        assert len(set(frame_out.tracker_id.tolist())) == 2
        for cid, tid in zip(frame_out.class_id.tolist(), frame_out.tracker_id.tolist(), strict=True):
            ids_by_class[cid].add(tid)
    assert len(ids_by_class[PERSON]) == 1
    assert len(ids_by_class[CAR]) == 1
    assert ids_by_class[PERSON].isdisjoint(ids_by_class[CAR])


def test_same_box_two_classes_get_two_ids() -> None:
    box = (100.0, 100.0, 200.0, 300.0)
    out = run(tracker(), [detections((box, PERSON), (box, CAR))] * 5)
    assert sorted(out[-1].tracker_id.tolist()) == [1, 2]


def test_classes_the_tracker_was_not_given_are_dropped() -> None:
    box = (100.0, 100.0, 200.0, 300.0)
    dog = 16
    out = run(tracker(class_ids=(PERSON,)), [detections((box, dog))] * 5)
    assert all(len(o) == 0 for o in out)


def test_an_object_gone_longer_than_lost_track_s_comes_back_with_a_new_id() -> None:
    box: Box = (100, 100, 160, 260)
    lost_track_s = 1.0
    gone = int(3 * lost_track_s * FPS)
    frames = [detections((box, PERSON))] * 8 + [Detections.empty()] * gone + [detections((box, PERSON))] * 8
    out = run(tracker(lost_track_s=lost_track_s), frames)
    before = {int(t) for o in out[:8] for t in o.tracker_id}
    after = {int(t) for o in out[8 + gone :] for t in o.tracker_id}
    assert before == {1}
    assert after == {2}


def test_a_short_gap_keeps_the_id() -> None:
    box: Box = (100, 100, 160, 260)
    frames = [detections((box, PERSON))] * 8 + [Detections.empty()] * 2 + [detections((box, PERSON))] * 4
    out = run(tracker(lost_track_s=3.0), frames)
    assert {int(t) for o in out for t in o.tracker_id} == {1}


def test_empty_detections_on_every_frame_give_empty_results() -> None:
    trk = tracker()
    for i in range(30):
        out = trk.update(Detections.empty(), i / FPS)
        assert len(out) == 0
        assert out.xyxy.shape == (0, 4)
        assert out.tracker_id.shape == (0,)


def test_low_confidence_boxes_never_start_a_track() -> None:
    box: Box = (100, 100, 160, 260)
    out = run(tracker(activation_threshold=0.5), [detections((box, PERSON), confidence=0.3)] * 10)
    assert all(len(o) == 0 for o in out)


def test_ids_are_unique_within_one_tracker_and_count_from_one() -> None:
    # three people in a row, far apart, appearing one after another
    starts = [(0.0, 0.0, 40.0, 100.0), (200.0, 0.0, 240.0, 100.0), (400.0, 0.0, 440.0, 100.0)]
    frames = [detections(*[(s, PERSON) for s in starts[: 1 + i // 4]]) for i in range(12)]
    out = run(tracker(), frames)
    assert sorted(out[-1].tracker_id.tolist()) == [1, 2, 3]
