"""Motion regions through the real capture and pipeline: on the people clip the gate's motion
boxes reach the detector, most analysed frames are detected in a crop, and the tracks are the
ones whole-frame detection finds."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

import vigil.workers.runner as runner_module
from vigil.config import DetectorConfig, VigilConfig
from vigil.detect.regions import RegionChooser
from vigil.workers.analyze import analyze_recording

TRACKS = "SELECT class_name, COUNT(*) FROM tracks GROUP BY class_name"


def _tracks(clip: Path, models_dir: Path, data_dir: Path, regions: bool) -> dict[str, int]:
    detector = DetectorConfig(model="yolox-nano", threads=1, motion_regions=regions)
    cfg = VigilConfig(data_dir=data_dir, models_dir=models_dir, detector=detector)
    analyze_recording(clip, cfg, motion_gate=True)
    with sqlite3.connect(data_dir / "vigil.db") as db:
        return {str(c): int(n) for c, n in db.execute(TRACKS)}


def test_the_people_clip_is_mostly_detected_in_crops_with_the_same_tracks(
    tmp_path: Path, people_clip: Path, installed_models_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    choosers: list[RegionChooser] = []

    class Kept(RegionChooser):
        def __init__(self) -> None:
            super().__init__()
            choosers.append(self)

    monkeypatch.setattr(runner_module, "RegionChooser", Kept)
    whole = _tracks(people_clip, installed_models_dir, tmp_path / "whole", regions=False)
    assert choosers == []
    cropped = _tracks(people_clip, installed_models_dir, tmp_path / "regions", regions=True)
    (chooser,) = choosers
    looked = chooser.crops + chooser.full
    print(f"whole {whole}, regions {cropped}: {chooser.crops} of {looked} frames cropped, {chooser.skipped} carried")
    # Measured: 146 analysed frames; with detect_every 2, 55 carried by the tracks and 78% of the
    # rest cropped (86% of all with detect_every 1), mean crop 38% of the frame; person 2 both ways.
    assert looked + chooser.skipped >= 100
    assert chooser.skipped >= 30 if chooser.policy.detect_every > 1 else chooser.skipped == 0
    assert chooser.crops / looked >= 0.6
    assert chooser.crop_area / chooser.crops <= 0.6
    assert whole == cropped == {"person": 2}
