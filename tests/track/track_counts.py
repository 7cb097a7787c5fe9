"""Tracks by class that ``analyze_recording`` (default config) reports for a clip with a given
detector: shared by ``tests/track/test_track_counts_golden.py`` and ``bench/track_counts.py``,
which writes ``tests/golden/tracks.json``."""

from __future__ import annotations

import tempfile
from pathlib import Path

from vigil.config import DetectorConfig, VigilConfig
from vigil.config.detector import DetectorModelName
from vigil.workers.analyze import analyze_recording

REPO = Path(__file__).resolve().parents[2]
# samples/cars.mp4 is intel/car-detection.mp4 without its audio, so that clip is not repeated.
CLIPS = {
    "samples/people.mp4": REPO / "samples" / "people.mp4",
    "samples/cars.mp4": REPO / "samples" / "cars.mp4",
    "opencv/vtest.avi": REPO.parent / "shared" / "data" / "video" / "opencv" / "vtest.avi",
}
DETECTORS: tuple[DetectorModelName, ...] = ("yolov4-tiny", "yolox-nano")


def count_tracks(clip: Path, model: DetectorModelName, models_dir: Path, threads: int = 2) -> dict[str, int]:
    """Tracks by class name for ``clip`` analysed with ``model`` at its default precision."""
    with tempfile.TemporaryDirectory(prefix="vigil-tracks-") as tmp:
        cfg = VigilConfig(
            data_dir=Path(tmp), models_dir=models_dir, detector=DetectorConfig(model=model, threads=threads)
        )
        summary = analyze_recording(clip, cfg)
    return dict(sorted(summary.tracks.items()))
