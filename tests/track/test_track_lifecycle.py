"""TrackLifecycle: started / updated / ended changes and the best snapshot, on synthetic tracks."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from vigil.config import TrackerConfig
from vigil.core.detections import Detections
from vigil.core.frame import Frame
from vigil.track import ObjectTracker, TrackChange, TrackLifecycle

FPS = 4.0  # frame times i / 4 are exact binary fractions, so interval checks are exact
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
W, H = 640, 480
PERSON, CAR = 0, 2

Box = tuple[float, float, float, float]


def frame(index: int, fill: int = 0, width: int = W, height: int = H) -> Frame:
    """Frame ``index`` at ``index / FPS`` s; every pixel is ``fill`` so a crop tells its frame."""
    pts_s = index / FPS
    image = np.full((height, width, 3), fill, dtype=np.uint8)
    return Frame("cam", index, pts_s, T0 + timedelta(seconds=pts_s), image)


def tracked(*objects: tuple[int, Box], confidence: float | Sequence[float] = 0.9, class_id: int = 0) -> Detections:
    """Tracked detections as ``(tracker id, box)`` pairs."""
    if not objects:
        return Detections.empty()
    n = len(objects)
    return Detections(
        xyxy=np.array([box for _, box in objects], dtype=np.float32),
        confidence=np.broadcast_to(np.asarray(confidence, dtype=np.float32), (n,)).copy(),
        class_id=np.full(n, class_id, dtype=np.int64),
        tracker_id=np.array([tid for tid, _ in objects], dtype=np.int64),
    )


def lifecycle(lost_track_s: float = 1.0, update_interval_s: float = 2.0) -> TrackLifecycle:
    return TrackLifecycle(lost_track_s=lost_track_s, update_interval_s=update_interval_s)


def observe_all(lc: TrackLifecycle, per_frame: Sequence[Detections]) -> list[TrackChange]:
    return [change for i, dets in enumerate(per_frame) for change in lc.observe(frame(i), dets)]


def kinds(changes: Sequence[TrackChange]) -> list[tuple[str, int]]:
    return [(c.kind, c.track.key) for c in changes]


BOX: Box = (100, 100, 160, 260)


# -- started / updated / ended ---------------------------------------------------------
def test_started_once_then_updated_at_most_every_interval() -> None:
    lc = lifecycle(lost_track_s=1.0, update_interval_s=2.0)
    changes = observe_all(lc, [tracked((7, BOX))] * 40)  # 10 s
    counts = Counter(c.kind for c in changes)
    assert counts == {"started": 1, "updated": 4}
    assert changes[0].kind == "started"
    assert changes[0].at == T0
    times = [(c.at - T0).total_seconds() for c in changes]
    assert times == [0.0, 2.0, 4.0, 6.0, 8.0]
    assert lc.live_tracks == 1


@pytest.mark.parametrize(
    ("update_interval_s", "expected_updates"),
    [(0.25, 39), (1.0, 9), (2.5, 3), (9.75, 1), (10.0, 0), (60.0, 0)],
)
def test_update_count_follows_the_interval(update_interval_s: float, expected_updates: int) -> None:
    changes = observe_all(lifecycle(update_interval_s=update_interval_s), [tracked((1, BOX))] * 40)
    updates = [c for c in changes if c.kind == "updated"]
    assert len(updates) == expected_updates
    gaps = np.diff([0.0] + [(c.at - T0).total_seconds() for c in updates])
    assert (gaps >= update_interval_s).all()


def test_a_track_unseen_longer_than_lost_track_s_ends_exactly_once() -> None:
    lc = lifecycle(lost_track_s=1.0)
    seen, gone = 8, 12  # 2 s seen, 3 s gone
    changes = observe_all(lc, [tracked((1, BOX))] * seen + [Detections.empty()] * gone)
    ended = [c for c in changes if c.kind == "ended"]
    assert len(ended) == 1
    last_seen = T0 + timedelta(seconds=(seen - 1) / FPS)
    assert ended[0].at == last_seen == ended[0].track.last_seen
    assert ended[0].track.n_observations == seen
    assert lc.live_tracks == 0
    assert lc.close_all() == []


@pytest.mark.parametrize(
    ("gap_frames", "ends"),
    [(3, False), (4, False), (5, True)],  # lost_track_s = 1 s = 4 frames; ends only when *longer*
)
def test_end_boundary_is_strictly_longer_than_lost_track_s(gap_frames: int, ends: bool) -> None:
    lc = lifecycle(lost_track_s=1.0)
    changes = observe_all(lc, [tracked((1, BOX))] + [Detections.empty()] * gap_frames)
    assert (("ended", 1) in kinds(changes)) is ends
    assert kinds(changes)[0] == ("started", 1)


def test_negative_tracker_ids_are_not_tracks() -> None:
    lc = lifecycle()
    assert observe_all(lc, [tracked((-1, BOX))] * 5) == []
    assert lc.live_tracks == 0


def test_close_all_ends_every_live_track() -> None:
    lc = lifecycle(lost_track_s=1.0)
    boxes = {1: (0.0, 0.0, 50.0, 50.0), 2: (100.0, 0.0, 150.0, 50.0), 3: (200.0, 0.0, 250.0, 50.0)}
    frames = [tracked(*[(k, b) for k, b in boxes.items() if k <= 1 + i]) for i in range(6)]
    observe_all(lc, frames)
    assert lc.live_tracks == 3
    ended = lc.close_all()
    assert sorted(kinds(ended)) == [("ended", 1), ("ended", 2), ("ended", 3)]
    assert all(c.at == c.track.last_seen for c in ended)
    assert lc.live_tracks == 0
    assert lc.close_all() == []


def test_empty_detections_every_frame_give_no_changes() -> None:
    lc = lifecycle()
    assert observe_all(lc, [Detections.empty()] * 50) == []
    assert lc.close_all() == []


def test_tracker_and_lifecycle_together_new_object_after_end_gets_new_id() -> None:
    cfg = TrackerConfig(lost_track_s=1.0, update_interval_s=60.0)
    trk = ObjectTracker(cfg, analysis_fps=FPS, class_ids=(PERSON, CAR))
    lc = TrackLifecycle(cfg.lost_track_s, cfg.update_interval_s)
    raw = Detections(
        xyxy=np.array([BOX], np.float32), confidence=np.array([0.9], np.float32), class_id=np.array([PERSON])
    )
    script = [raw] * 10 + [Detections.empty()] * 12 + [raw] * 10  # 2.5 s, 3 s gone, then again
    changes: list[TrackChange] = []
    for i, dets in enumerate(script):
        changes += lc.observe(frame(i), trk.update(dets, i / FPS))
    changes += lc.close_all()
    assert kinds(changes) == [("started", 1), ("ended", 1), ("started", 2), ("ended", 2)]


# -- best snapshot ---------------------------------------------------------------------
# Each observation is (box, confidence); frame i is filled with value 10 * (i + 1), so the
# crop's pixel value tells which frame it was cut from.
SNAPSHOT_CASES = [
    pytest.param(
        [((100, 100, 140, 180), 0.9), ((100, 100, 150, 200), 0.9), ((100, 100, 200, 300), 0.9)],
        2,
        (240, 120),
        id="growing-box-latest-largest",
    ),
    pytest.param(
        [((100, 100, 200, 300), 0.9), ((100, 100, 140, 180), 0.9)],
        0,
        (240, 120),
        id="shrinking-box-keeps-first",
    ),
    pytest.param(
        [((0, 100, 110, 320), 0.9), ((200, 100, 300, 300), 0.9)],
        1,
        (240, 120),
        id="cut-off-at-left-edge-loses-to-whole-box",
    ),
    pytest.param(
        [((200, 0, 300, 210), 0.9), ((540, 200, 640, 400), 0.9), ((200, 100, 300, 300), 0.9)],
        2,
        (240, 120),
        id="cut-off-at-top-and-right-lose",
    ),
    pytest.param(
        [((100, 100, 220, 340), 0.3), ((100, 100, 200, 300), 0.9)],
        1,
        (240, 120),
        id="confident-beats-slightly-larger",
    ),
    pytest.param(
        [((10, 10, 630, 470), 0.9)],
        0,
        (480, 640),
        id="margin-clipped-to-frame",
    ),
]


@pytest.mark.parametrize(("observations", "best", "crop_hw"), SNAPSHOT_CASES)
def test_best_snapshot_is_the_largest_confident_uncut_box(
    observations: list[tuple[Box, float]], best: int, crop_hw: tuple[int, int]
) -> None:
    lc = lifecycle(lost_track_s=10.0)
    for i, (box, conf) in enumerate(observations):
        lc.observe(frame(i, fill=10 * (i + 1)), tracked((1, box), confidence=conf))
    (ended,) = lc.close_all()
    crop = ended.track.best_crop
    assert crop is not None
    assert crop.dtype == np.uint8
    assert crop.shape == (*crop_hw, 3)
    assert (crop == 10 * (best + 1)).all(), "crop cut from the wrong frame"
    assert ended.track.best_confidence == pytest.approx(max(c for _, c in observations))


def test_snapshot_crop_is_a_copy_of_the_frame() -> None:
    lc = lifecycle()
    f = frame(0, fill=77)
    lc.observe(f, tracked((1, (100, 100, 200, 300))))
    f.image[:] = 0  # the capture loop reuses or draws on its buffers
    (ended,) = lc.close_all()
    assert ended.track.best_crop is not None
    assert (ended.track.best_crop == 77).all()


def test_snapshot_crop_has_the_box_pixels_in_the_middle() -> None:
    lc = lifecycle()
    f = frame(0)
    f.image[100:300, 100:200] = 255  # the object; a 10 % margin of background around it
    lc.observe(f, tracked((1, (100, 100, 200, 300))))
    (ended,) = lc.close_all()
    crop = ended.track.best_crop
    assert crop is not None
    assert (crop[20:220, 10:110] == 255).all()
    assert (crop[:20] == 0).all() and (crop[:, :10] == 0).all()
