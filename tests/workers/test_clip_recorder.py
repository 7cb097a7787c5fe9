"""The clip recorder's ring and triggers, with synthetic frames (no models): nothing is written
while nothing happens; a trigger takes the ring's last ``pre_s`` seconds and waits for
``post_s`` more; the ring never holds more than its memory bound; a camera that stalls still
gets its clip; a crowd alert that clears gets none."""

from __future__ import annotations

import io
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
import numpy as np

from vigil.config.clips import ClipsConfig
from vigil.core.detections import Detections
from vigil.core.frame import Frame
from vigil.events import AnyEvent, CandidateRaised, ClipRecorded
from vigil.events.crowd import CrowdAlert
from vigil.governance.clip_redactor import ClipRedactor
from vigil.store.media import MediaStore
from vigil.workers.clips import ClipRecorder
from vigil.workers.pipeline import FrameResult

T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
FPS = 5.0


def _frame(i: int, camera: str = "door", shape: tuple[int, int] = (48, 64)) -> Frame:
    image = np.full((*shape, 3), i % 255, dtype=np.uint8)
    return Frame(camera, i, i / FPS, T0 + timedelta(seconds=i / FPS), image)


def _result(events: list[AnyEvent] | None = None) -> FrameResult:
    empty = Detections.empty()
    return FrameResult(detections=empty, tracked=empty, events=list(events or []))


def _candidate(i: int) -> CandidateRaised:
    return CandidateRaised(camera_id="door", occurred_at=T0 + timedelta(seconds=i / FPS), kind="plate",
                           list_entry_id="AB12CDE", score=0.9)  # fmt: skip


def _alert(i: int, state: str) -> CrowdAlert:
    at = T0 + timedelta(seconds=i / FPS)
    return CrowdAlert(camera_id="door", occurred_at=at, kind="over_capacity", subject_type="zone", subject_id="north",
                      state=state, value=41, threshold=40, unit="people", since=at)  # type: ignore[arg-type]  # fmt: skip


class _Collect:
    def __init__(self) -> None:
        self.events: list[ClipRecorded] = []
        self.done = threading.Event()

    def __call__(self, event: AnyEvent) -> None:
        assert isinstance(event, ClipRecorded)
        self.events.append(event)
        self.done.set()


def _recorder(tmp_path: Path, **cfg: object) -> tuple[ClipRecorder, _Collect, MediaStore]:
    media = MediaStore(tmp_path / "media", clip_redactor=ClipRedactor(None))
    sink = _Collect()
    return ClipRecorder(ClipsConfig(**cfg), media, sink), sink, media  # type: ignore[arg-type]


def test_nothing_is_written_while_nothing_happens(tmp_path: Path) -> None:
    rec, sink, media = _recorder(tmp_path)
    for i in range(200):
        rec.on_frame(_frame(i), _result())
    rec.close()
    assert sink.events == [] and not (media.root / "clips").exists()


def test_a_trigger_keeps_pre_and_post_seconds(tmp_path: Path) -> None:
    rec, sink, media = _recorder(tmp_path, pre_s=2.0, post_s=1.0)
    for i in range(60):
        rec.on_frame(_frame(i), _result([_candidate(i), _alert(i, "cleared")] if i == 40 else None))
    assert sink.done.wait(30)
    rec.close()
    (clip,) = sink.events  # the cleared alert got none
    assert clip.subject_type == "candidate" and clip.media_kept is None
    # frames 30..45: 2 s (10 frames) before the trigger frame, the trigger, 1 s (5 frames) after
    assert clip.frames == 16
    assert clip.started_at == T0 + timedelta(seconds=30 / FPS)
    with av.open(io.BytesIO((media.root / clip.media).read_bytes())) as f:
        assert sum(1 for _ in f.decode(video=0)) == 16


def test_the_ring_stays_within_its_memory_bound(tmp_path: Path) -> None:
    # 1 MiB frames, a 4 MiB bound: at most 4 frames before the trigger whatever pre_s says.
    rec, sink, _ = _recorder(tmp_path, pre_s=30.0, post_s=0.0, buffer_mib=4)
    for i in range(20):
        rec.on_frame(_frame(i, shape=(512, 683)), _result([_alert(i, "raised")] if i == 19 else None))
    assert sink.done.wait(30)
    rec.close()
    assert sink.events[0].frames <= 4 and sink.events[0].subject_type == "crowd_alert"


def test_a_stalled_camera_still_gets_its_clip_at_close(tmp_path: Path) -> None:
    rec, sink, _ = _recorder(tmp_path, pre_s=1.0, post_s=5.0)
    for i in range(10):
        rec.on_frame(_frame(i), _result([_candidate(i)] if i == 9 else None))
    rec.close()  # the camera stopped before the 5 s after: stored with what it had
    assert len(sink.events) == 1 and sink.events[0].frames == 6


def test_every_tracked_persons_head_is_blurred_and_only_the_candidates_track_kept(tmp_path: Path) -> None:
    seen: list[tuple[tuple[object, ...], tuple[object, ...]]] = []

    cameras: set[str | None] = set()

    def spy(
        image: np.ndarray, heads: object, keep: object, camera_id: str | None = None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        seen.append((tuple(heads), tuple(keep)))  # type: ignore[arg-type]
        cameras.add(camera_id)
        return image, (image if keep else None)

    media = MediaStore(tmp_path / "media", clip_redactor=spy)
    sink = _Collect()
    rec = ClipRecorder(ClipsConfig(pre_s=1.0, post_s=0.0), media, sink)
    people = Detections(xyxy=[[0, 0, 10, 40], [20, 0, 30, 40], [40, 0, 60, 20]], confidence=[0.9, 0.9, 0.9],
                        class_id=[0, 0, 2], tracker_id=[1, 2, 3])  # fmt: skip
    face = CandidateRaised(camera_id="door", occurred_at=T0, kind="face", list_entry_id="astro", score=0.9,
                           track_id="door-r-2")  # fmt: skip
    for i in range(3):
        result = FrameResult(detections=people, tracked=people, events=[face] if i == 2 else [],
                             track_ids=("door-r-1", "door-r-2", "door-r-3"))  # fmt: skip
        rec.on_frame(_frame(i), result)
    assert sink.done.wait(30)
    rec.close()
    assert sink.events[0].media_kept is not None
    assert cameras == {"door"}  # the clip's camera, whose plate policy applies
    for heads, keep in seen:
        assert len(heads) == 2  # both people, not the car
        assert keep == ((20.0, 0.0, 30.0, 40.0),)  # the candidate's own person box only
