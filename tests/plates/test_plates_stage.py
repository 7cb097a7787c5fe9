"""The plates stage with an in-memory OCR fake: frame choice, vote, hits as candidates, retention 0."""

from __future__ import annotations

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
from vigil.plates.reader import PlateReader
from vigil.store.media import MediaStore
from vigil.workers.plates_stage import PlatesStage
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
