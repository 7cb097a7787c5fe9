"""The plates stage with an in-memory OCR fake: frame choice, vote, hits as candidates, retention 0."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest

from vigil.config.plates import PlatesConfig
from vigil.core.detections import Detections
from vigil.core.frame import Frame
from vigil.events import CandidateRaised
from vigil.events.plates import PlateReadEvent, PlateReadSummary
from vigil.plates.ctc import TextLine
from vigil.plates.hotlist import HotlistPlate
from vigil.plates.ocr import Quad
from vigil.plates.reader import PlateRead, PlateReader
from vigil.store.media import MediaStore
from vigil.workers.plates_stage import Box, PlatesStage
from vigil.workers.stages import StageInput

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


class FakeOCR:
    """Reads whatever it is told, in turn; finds no text lines."""

    def __init__(self, texts: list[str]) -> None:
        self.texts = texts
        self.calls = 0

    def recognise(self, image: np.ndarray) -> TextLine:
        text = self.texts[self.calls % len(self.texts)]
        self.calls += 1
        return TextLine(text, 0.95)

    def detect_lines(self, image: np.ndarray) -> list[Quad]:
        return []


def _car_frame(i: int) -> Frame:
    img = np.full((240, 320, 3), 90, np.uint8)
    cv2.rectangle(img, (60, 60), (260, 200), (40, 40, 160), -1)
    cv2.rectangle(img, (120, 160), (200, 185), (255, 255, 255), -1)
    cv2.putText(img, "ABC1234", (124, 180), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 2)
    return Frame("gate", i, i * 0.5, T0 + timedelta(seconds=i * 0.5), img)


def _inp(i: int, ended: tuple[str, ...] = ()) -> StageInput:
    tracked = Detections(
        xyxy=np.array([[60, 60, 260, 200]], np.float32),
        confidence=np.array([0.9], np.float32),
        class_id=np.array([2]),
        tracker_id=np.array([1]),
    )
    names = tuple(f"c{k}" for k in range(80))
    names = (*names[:2], "car", *names[3:])
    return StageInput(_car_frame(i), tracked, ("gate-r-1",), names, ended)


def _run(
    cfg: PlatesConfig, texts: list[str], hotlist: list[HotlistPlate], media: MediaStore | None
) -> tuple[list[object], PlatesStage]:
    stage = PlatesStage("gate", cfg, PlateReader(FakeOCR(texts)), lambda: hotlist, media)
    events: list[object] = []
    for i in range(10):
        events.extend(stage.process(_inp(i)))
    events.extend(stage.finish())
    return events, stage


@pytest.mark.parametrize("retention", [24.0, 0.0])
def test_hit_raises_a_plate_candidate_with_crop(tmp_path: Path, retention: float) -> None:
    cfg = PlatesConfig(enabled=True, retention_hours=retention, min_sharpness=0.0, min_vehicle_px=10)
    media = MediaStore(tmp_path / "media")
    events, stage = _run(cfg, ["ABC1234", "ABC1Z34", "ABC1234"], [HotlistPlate("e1", "ABC1234")], media)
    cands = [e for e in events if isinstance(e, CandidateRaised)]
    assert len(cands) == 1
    c = cands[0]
    assert (c.kind, c.list_entry_id, c.observed, c.flags) == ("plate", "e1", "ABC1234", ())
    assert c.probe_media is not None and media.exists(c.probe_media)
    reads = [e for e in events if isinstance(e, PlateReadEvent)]
    assert len(reads) == (1 if retention else 0)
    # Bounded cost: at most reads_per_track frames of the vehicle were read, and the run's
    # summary (the last event) reports it.
    assert stage.stats.frames_read <= cfg.reads_per_track
    summary = events[-1]
    assert isinstance(summary, PlateReadSummary)
    assert (summary.vehicles, summary.vehicles_read, summary.plates, summary.hits) == (1, 1, 1, 1)
    # 9 of the 10 frames qualify (the track is seen twice first); reading stops at the bound.
    assert summary.frames_read == summary.max_frames_per_vehicle == cfg.reads_per_track == 4
    assert summary.reads_per_track == cfg.reads_per_track
    assert summary.ocr_calls >= summary.frames_read and summary.reads_stored == (retention > 0)
    assert summary.ms_per_vehicle_read == pytest.approx(summary.read_ms, abs=0.11)


def test_retention_zero_stores_nothing_for_a_miss(tmp_path: Path) -> None:
    cfg = PlatesConfig(enabled=True, retention_hours=0, min_sharpness=0.0, min_vehicle_px=10)
    media = MediaStore(tmp_path / "media")
    events, _ = _run(cfg, ["ABC1234"], [HotlistPlate("e1", "ZZZ999")], media)
    assert len(events) == 1 and isinstance(events[0], PlateReadSummary)
    # The summary counts the read but carries nothing of it.
    assert (events[0].plates, events[0].hits, events[0].reads_stored) == (1, 0, False)
    assert "ABC1234" not in events[0].model_dump_json()
    assert not any((tmp_path / "media").rglob("*.jpg"))


def test_fuzzy_hits_only_when_configured_and_flagged(tmp_path: Path) -> None:
    listed = [HotlistPlate("e1", "ABC1284")]
    strict = PlatesConfig(enabled=True, min_sharpness=0.0, min_vehicle_px=10)
    events, _ = _run(strict, ["ABC1234"], listed, None)
    assert not any(isinstance(e, CandidateRaised) for e in events)
    fuzzy = strict.model_copy(update={"fuzzy": True, "max_edit_distance": 1.0})
    events, _ = _run(fuzzy, ["ABC1234"], listed, None)
    (c,) = [e for e in events if isinstance(e, CandidateRaised)]
    assert c.flags == ("fuzzy",) and c.detail is not None and "differs" in c.detail


# Whole-frame reads (plates.frame_scan_s): plates of vehicles the detector does not track.


def _untracked(i: int, car: bool = True) -> StageInput:
    """A frame of the same car (or of the empty road) in which the detector found nothing."""
    frame = _car_frame(i)
    if not car:
        frame = Frame(frame.camera_id, frame.index, frame.pts_s, frame.captured_at, np.full_like(frame.image, 90))
    none = Detections(
        xyxy=np.zeros((0, 4), np.float32),
        confidence=np.zeros(0, np.float32),
        class_id=np.zeros(0, np.int64),
        tracker_id=np.zeros(0, np.int64),
    )
    return StageInput(frame, none, (), tuple(f"c{k}" for k in range(80)), ())


def _scan_run(cfg: PlatesConfig, texts: list[str], frames: list[StageInput]) -> tuple[list[object], PlatesStage]:
    stage = PlatesStage("gate", cfg, PlateReader(FakeOCR(texts)), lambda: [HotlistPlate("e1", "ABC1234")], None)
    events: list[object] = []
    for inp in frames:
        events.extend(stage.process(inp))
    events.extend(stage.finish())
    return events, stage


def test_without_frame_scan_an_untracked_vehicle_is_not_read() -> None:
    cfg = PlatesConfig(enabled=True, min_sharpness=0.0)
    events, stage = _scan_run(cfg, ["ABC1234"], [_untracked(i) for i in range(10)])
    assert [type(e) for e in events] == [PlateReadSummary]
    assert stage.stats.frames_scanned == 0 and stage.stats.ocr_calls == 0


def test_frame_scan_reads_a_plate_no_vehicle_track_holds() -> None:
    cfg = PlatesConfig(enabled=True, min_sharpness=0.0, frame_scan_s=1.0)
    events, _ = _scan_run(cfg, ["ABC1234", "ABC1Z34"], [_untracked(i) for i in range(10)])  # 0.5 s apart
    (c,) = [e for e in events if isinstance(e, CandidateRaised)]
    assert (c.kind, c.list_entry_id, c.observed) == ("plate", "e1", "ABC1234")
    assert c.track_id is not None and c.track_id.startswith("plate-scan-")
    (read,) = [e for e in events if isinstance(e, PlateReadEvent)]
    assert read.track_id == c.track_id and read.hit and 2 <= read.n_reads <= cfg.reads_per_track
    summary = events[-1]
    assert isinstance(summary, PlateReadSummary)
    # Every 1 s of video over 4.5 s: frames 0, 2, 4, 6, 8; no vehicle was seen or read.
    assert (summary.frames_scanned, summary.vehicles, summary.frames_read) == (5, 0, 0)
    assert summary.scan_ms > 0 and summary.read_ms == 0 and summary.ocr_calls > 0


def test_a_plate_track_from_scans_ends_when_the_plate_is_gone() -> None:
    cfg = PlatesConfig(enabled=True, min_sharpness=0.0, frame_scan_s=0.5, reads_per_track=10)
    stage = PlatesStage("gate", cfg, PlateReader(FakeOCR(["ABC1234"])), lambda: [HotlistPlate("e1", "ABC1234")], None)
    for i in range(4):
        assert stage.process(_untracked(i)) == []
    ended: list[object] = []
    for i in range(4, 12):  # the car has left: frames of the empty road, 0.5 s apart
        ended.extend(stage.process(_untracked(i, car=False)))
    # Voted and raised before the stream ends, once the gap (2 s) had passed.
    assert [type(e) for e in ended] == [CandidateRaised, PlateReadEvent]
    assert [type(e) for e in stage.finish()] == [PlateReadSummary]


def test_frame_scan_leaves_tracked_vehicles_to_their_tracks() -> None:
    cfg = PlatesConfig(enabled=True, min_sharpness=0.0, min_vehicle_px=10, frame_scan_s=1.0)
    events, stage = _scan_run(cfg, ["ABC1234"], [_inp(i) for i in range(10)])
    reads = [e for e in events if isinstance(e, PlateReadEvent)]
    # One read, by the vehicle's track: the scans saw the same plate inside its region.
    assert [r.track_id for r in reads] == ["gate-r-1"]
    assert stage.stats.frames_scanned == 5 and stage.stats.frames_read == cfg.reads_per_track


BARRIER = (120.0, 160.0, 200.0, 185.0)
"""Where a car stopped at the barrier shows its plate, in frame pixels."""


class ScriptedReader(PlateReader):
    """Whole-frame reads as scripted: scan ``k`` sees ``script[k]`` (plate, box) pairs (the
    last entry repeats), without reading any pixels."""

    def __init__(self, script: list[list[tuple[str, Box]]]) -> None:
        super().__init__(FakeOCR([""]))
        self.script = script
        self.scans = 0

    def read_scene(
        self, image: np.ndarray, roi: object = None, max_reads: int = 1, *, full_resolution: bool = True
    ) -> list[PlateRead]:
        assert not full_resolution  # a whole-frame scan: no full-resolution second look
        seen = self.script[min(self.scans, len(self.script) - 1)]
        self.scans += 1
        crop = np.zeros((25, 80, 3), np.uint8)
        return [PlateRead(text, text, 0.95, 0.95, box, "us", True, crop) for text, box in seen]


def test_scans_of_different_plates_are_different_plate_tracks() -> None:
    cfg = PlatesConfig(enabled=True, min_sharpness=0.0, frame_scan_s=0.5, reads_per_track=2)
    # Each scan sees one of two cars at two places of the barrier, in turn.
    two_cars = [[("ABC1234", (20.0, 150.0, 100.0, 175.0))], [("XYZ9876", (220.0, 150.0, 300.0, 175.0))]]
    stage = PlatesStage("gate", cfg, ScriptedReader(two_cars * 4), lambda: [], None)
    events: list[object] = []
    for i in range(8):
        events.extend(stage.process(_untracked(i)))
    events.extend(stage.finish())
    reads = sorted((e.plate, e.n_reads, e.track_id) for e in events if isinstance(e, PlateReadEvent))
    assert [p for p, _, _ in reads] == ["ABC1234", "XYZ9876"] and reads[0][2] != reads[1][2]
    # 4 scans saw each plate; the same bound as a vehicle's applies to each plate track.
    assert [n for _, n, _ in reads] == [cfg.reads_per_track] * 2


@pytest.mark.parametrize("vehicle_track_ends_first", [False, True])
def test_a_plate_seen_by_a_scan_and_by_its_vehicle_track_is_reported_once(vehicle_track_ends_first: bool) -> None:
    cfg = PlatesConfig(enabled=True, min_sharpness=0.0, min_vehicle_px=10, frame_scan_s=0.5)
    stage = PlatesStage("gate", cfg, PlateReader(FakeOCR(["ABC1234"])), lambda: [HotlistPlate("e1", "ABC1234")], None)
    # The scans see the plate before the tracker has confirmed the car, then the car is tracked
    # and read; either the detector keeps it to the end (the plate track ends first, while the
    # vehicle is still read), or it loses the car after two frames and the scans see it again.
    if vehicle_track_ends_first:
        frames = [_untracked(0), _untracked(1), _inp(2), _inp(3, ended=("gate-r-1",))]
        frames += [_untracked(i) for i in range(4, 10)]
    else:
        frames = [_untracked(0), _untracked(1), *(_inp(i) for i in range(2, 10))]
    events: list[object] = []
    for inp in frames:
        events.extend(stage.process(inp))
    events.extend(stage.finish())
    reads = [e for e in events if isinstance(e, PlateReadEvent)]
    cands = [e for e in events if isinstance(e, CandidateRaised)]
    assert len(reads) == len(cands) == 1 and reads[0].plate == "ABC1234"
    assert reads[0].track_id == "gate-r-1"  # the vehicle's track, with the vehicle's context
    assert stage.stats.frames_scanned == 10  # every frame was due (0.5 s apart)


def test_a_vehicle_is_voted_at_its_bound_while_still_in_view_and_not_read_again() -> None:
    """A listed car stopped at a barrier raises its hit once its frames are read, not when it leaves."""
    cfg = PlatesConfig(enabled=True, min_sharpness=0.0, min_vehicle_px=10)
    ocr = FakeOCR(["ABC1234"])
    stage = PlatesStage("gate", cfg, PlateReader(ocr), lambda: [HotlistPlate("e1", "ABC1234")], None)
    raised_at = None
    for i in range(30):  # 15 s in view, never ended
        events = stage.process(_inp(i))
        if any(isinstance(e, CandidateRaised) for e in events):
            assert raised_at is None  # once
            raised_at = i
    # Read from its second frame on (frames 1-4, 0.5 s apart): voted on the fourth read.
    assert raised_at == cfg.reads_per_track == 4
    calls = ocr.calls
    assert stage.stats.frames_read == cfg.reads_per_track and stage.stats.vehicles == 1
    tail = stage.process(_inp(30, ended=("gate-r-1",))) + stage.finish()
    assert [type(e) for e in tail] == [PlateReadSummary] and ocr.calls == calls


def test_a_plate_track_is_voted_at_its_bound_and_later_scans_do_not_start_another() -> None:
    cfg = PlatesConfig(enabled=True, min_sharpness=0.0, frame_scan_s=0.5, reads_per_track=3)
    stage = PlatesStage("gate", cfg, PlateReader(FakeOCR(["ABC1234"])), lambda: [HotlistPlate("e1", "ABC1234")], None)
    per_frame = [stage.process(_untracked(i)) for i in range(20)]  # 10 s of a car nobody tracks
    raised = [i for i, events in enumerate(per_frame) if any(isinstance(e, CandidateRaised) for e in events)]
    assert raised == [2]  # the third scan; one plate, one candidate
    events = stage.finish()
    assert [type(e) for e in events] == [PlateReadSummary] and stage.stats.frames_scanned == 20


@pytest.mark.parametrize(
    ("plates", "voted"),
    [
        (["ABC1234"] * 3 + ["XYZ9876"] * 3, ["ABC1234", "XYZ9876"]),  # another car: reported too
        (["ABC1234", "ABC1Z84", "ABC1234", "ABC1234"], ["ABC1234"]),  # a misread in place: one plate
    ],
)
def test_a_plate_in_the_same_place_is_the_same_plate_only_if_it_reads_alike(
    plates: list[str], voted: list[str]
) -> None:
    cfg = PlatesConfig(enabled=True, min_sharpness=0.0, frame_scan_s=0.5, reads_per_track=3)
    # Car A's plate at the barrier, then (after the queue moves up) whatever is read there.
    stage = PlatesStage("gate", cfg, ScriptedReader([[(p, BARRIER)] for p in plates]), lambda: [], None)
    events: list[object] = []
    for i in range(len(plates)):
        events.extend(stage.process(_untracked(i)))
    events.extend(stage.finish())
    assert [e.plate for e in events if isinstance(e, PlateReadEvent)] == voted


def test_a_car_parked_in_view_is_reported_once_though_scans_lose_it_now_and_then() -> None:
    cfg = PlatesConfig(enabled=True, min_sharpness=0.0, frame_scan_s=1.0, reads_per_track=3)
    missed = {1, 5, 6, 7, 8, 20, 21, 22, 30}  # glare, a passer-by
    reader = ScriptedReader([[] if k in missed else [("ABC1234", BARRIER)] for k in range(40)])
    stage = PlatesStage("gate", cfg, reader, lambda: [HotlistPlate("e1", "ABC1234")], None)
    events: list[object] = []
    for i in range(40):  # the motion gate lets the still view through every 2 s
        inp = _untracked(i)
        frame = replace(inp.frame, pts_s=2.0 * i, captured_at=T0 + timedelta(seconds=2 * i))
        events.extend(stage.process(replace(inp, frame=frame)))
    events.extend(stage.finish())
    # Three scans in a row without it end a plate track (twice here), and the next scan that
    # sees it starts another; each is voted, but the plate is reported once.
    assert [type(e) for e in events if not isinstance(e, PlateReadSummary)] == [CandidateRaised, PlateReadEvent]
    assert stage.stats.frames_scanned == 40
