"""Detection in motion regions against whole-frame detection, on the clips: what it costs in
missed or late tracks, and what it saves.

Every clip goes through ``analyze_recording()`` twice with the default config (motion gate on)
and YOLOX-Nano: with ``detector.motion_regions`` off (every analysed frame detected whole: the
reference) and on (a crop around the motion and the live tracks where that is under
``max_share`` of the frame, the whole frame every ``full_every_s``). A reference track is
*found* when a track of the same class overlaps it in time, *late* by how much later the first
such track starts, *missed* when none does. Saving: CPU seconds of the process (decoding,
detection, tracking, the store), off over on, in the same process; and the share of frames
cropped and their mean area.

Run: ``OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/motion_regions.py [--rounds 2] [--json]``
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import av
from rich.table import Table

import vigil.workers.runner as runner_module
from benchlib import REPO_ROOT, SHARED_DATA, emit_json, machine_info, models_dir, note, out_console, quiet_logs
from motion_gate_recall import TRACK_SPAN, Track, compare
from vigil.config import DetectorConfig, VigilConfig
from vigil.detect.regions import RegionChooser
from vigil.workers.analyze import analyze_recording

CLIPS = {
    "samples/people.mp4": REPO_ROOT / "samples" / "people.mp4",
    "samples/cars.mp4": REPO_ROOT / "samples" / "cars.mp4",
    "opencv/vtest.avi": SHARED_DATA / "video" / "opencv" / "vtest.avi",
    "intel/one-by-one-person-detection.mp4": SHARED_DATA / "video" / "intel" / "one-by-one-person-detection.mp4",
    "intel/car-detection.mp4": SHARED_DATA / "video" / "intel" / "car-detection.mp4",
}

CHOOSERS: list[RegionChooser] = []


class CountingChooser(RegionChooser):
    """The runner's chooser, kept so that the bench can read its counts."""

    def __init__(self) -> None:
        super().__init__()
        CHOOSERS.append(self)


def analyse(clip: Path, regions: bool) -> tuple[list[Track], int, float]:
    """Tracks, frames analysed and CPU seconds of one analysis."""
    import json
    import sqlite3

    with tempfile.TemporaryDirectory(prefix="vigil-regions-") as tmp:
        detector = DetectorConfig(model="yolox-nano", threads=1, motion_regions=regions)
        cfg = VigilConfig(data_dir=Path(tmp), models_dir=models_dir(), detector=detector)
        t0 = time.process_time()
        summary = analyze_recording(clip, cfg, motion_gate=True)
        cpu = time.process_time() - t0
        with sqlite3.connect(Path(tmp) / "vigil.db") as db:
            rows = db.execute(TRACK_SPAN).fetchall()
    tracks = [(c, int(json.loads(a)["frame_index"]), int(json.loads(b)["frame_index"])) for c, a, b in rows]
    return tracks, summary.frames_analysed, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="off/on pairs per clip (CPU seconds: median)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    quiet_logs()
    runner_module.RegionChooser = CountingChooser  # type: ignore[misc]
    results: dict[str, Any] = {}
    for name, clip in CLIPS.items():
        if not clip.is_file():
            note(f"{name}: not found, skipped")
            continue
        with av.open(str(clip)) as container:
            fps = float(container.streams.video[0].average_rate or 10)
        off_cpu: list[float] = []
        on_cpu: list[float] = []
        for round_ in range(args.rounds):
            note(f"{name}: round {round_ + 1}, whole frames then motion regions")
            ref, ref_frames, cpu = analyse(clip, regions=False)
            off_cpu.append(cpu)
            CHOOSERS.clear()
            got, frames, cpu = analyse(clip, regions=True)
            on_cpu.append(cpu)
        chooser = CHOOSERS[-1]
        looked = chooser.crops + chooser.full
        results[name] = compare(ref, got, fps) | {
            "frames_analysed": [ref_frames, frames],
            "cropped_share": round(chooser.crops / looked, 3) if looked else None,
            "crop_area_mean": round(chooser.crop_area / chooser.crops, 3) if chooser.crops else None,
            "cpu_s": [round(statistics.median(off_cpu), 2), round(statistics.median(on_cpu), 2)],
            "cpu_s_rounds": [[round(c, 2) for c in off_cpu], [round(c, 2) for c in on_cpu]],
            "saving": round(statistics.median(off_cpu) / statistics.median(on_cpu), 2),
        }
    table = Table(title="motion regions against whole frames (yolox-nano, gate on, 1 thread)")
    for column in (
        "clip",
        "tracks ref/regions",
        "missed",
        "late >1 s",
        "median / max delay s",
        "cropped",
        "crop area",
        "CPU s",
        "x",
    ):
        table.add_column(column, justify="right")
    for name, r in results.items():
        table.add_row(
            name,
            f"{r['reference_tracks']} / {r['gated_tracks']}",
            str(r["missed"]),
            str(r["late_over_1s"]),
            f"{r['median_delay_s']} / {r['max_delay_s']}",
            f"{r['cropped_share']:.0%}",
            f"{r['crop_area_mean']}",
            f"{r['cpu_s'][0]} -> {r['cpu_s'][1]}",
            f"{r['saving']}x",
        )
    out_console.print(table)
    if args.json:
        emit_json({"machine": machine_info(), "clips": results})


if __name__ == "__main__":
    main()
