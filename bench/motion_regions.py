"""Detection in motion regions against whole-frame detection, on the clips: what it costs in
missed or late tracks, and what it saves.

Every clip goes through ``analyze_recording()`` once per variant with the default config (motion
gate on) and YOLOX-Nano: with ``detector.motion_regions`` off (every analysed frame detected
whole: the reference) and on, per variant ``CROPS:EVERY`` (``--variants 1:1,4:1,1:2``): at most
``max_crops`` crops per frame (1: one crop around all the motion and live tracks; 4: up to four
around separate places; used where the crops together are under ``max_share`` of the frame,
the whole frame every ``full_every_s``), and detection on every ``detect_every``-th analysed
frame while everything that moved is inside a live track (the tracks carry over the others). A reference track is
*found* when a track of the same class overlaps it in time, *late* by how much later the first
such track starts, *missed* when none does. Saving: CPU seconds of the process (decoding,
detection, tracking, the store), off over on, in the same process; and the share of frames
cropped, their mean area (all crops of a frame) and crops per cropped frame. ``--clips`` picks
clips by name (to choose on some and check on the others).

Run: ``OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/motion_regions.py [--rounds 2]
[--variants 1:1,4:1,1:2] [--clips people,one-by-one] [--json]``
"""

from __future__ import annotations

import argparse
import dataclasses
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
from vigil.detect.regions import RegionChooser, RegionPolicy
from vigil.workers.analyze import analyze_recording

CLIPS = {
    "samples/people.mp4": REPO_ROOT / "samples" / "people.mp4",
    "samples/cars.mp4": REPO_ROOT / "samples" / "cars.mp4",
    "opencv/vtest.avi": SHARED_DATA / "video" / "opencv" / "vtest.avi",
    "intel/one-by-one-person-detection.mp4": SHARED_DATA / "video" / "intel" / "one-by-one-person-detection.mp4",
    "intel/car-detection.mp4": SHARED_DATA / "video" / "intel" / "car-detection.mp4",
}

CHOOSERS: list[RegionChooser] = []
VARIANT = [RegionPolicy()]


class CountingChooser(RegionChooser):
    """The runner's chooser, kept so that the bench can read its counts, with the variant's crops."""

    def __init__(self) -> None:
        super().__init__(VARIANT[0])
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
    parser.add_argument("--rounds", type=int, default=2, help="rounds of every variant per clip (CPU seconds: median)")
    parser.add_argument("--variants", default="1:1", help="comma-separated MAX_CROPS:DETECT_EVERY, e.g. 1:1,4:1,1:2")
    parser.add_argument("--clips", default="", help="comma-separated parts of clip names (default: all)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    quiet_logs()
    variants = [v.strip() for v in args.variants.split(",")]
    policies = {
        v: dataclasses.replace(RegionPolicy(), max_crops=int(v.split(":")[0]), detect_every=int(v.split(":")[1]))
        for v in variants
    }
    wanted = [c.strip() for c in args.clips.split(",") if c.strip()]
    runner_module.RegionChooser = CountingChooser  # type: ignore[misc]
    results: dict[str, Any] = {}
    for name, clip in CLIPS.items():
        if wanted and not any(w in name for w in wanted):
            continue
        if not clip.is_file():
            note(f"{name}: not found, skipped")
            continue
        with av.open(str(clip)) as container:
            fps = float(container.streams.video[0].average_rate or 10)
        off_cpu: list[float] = []
        on_cpu: dict[str, list[float]] = {k: [] for k in variants}
        got: dict[str, tuple[list[Track], int, RegionChooser]] = {}
        for round_ in range(args.rounds):
            note(f"{name}: round {round_ + 1}, whole frames then motion regions ({args.variants})")
            ref, ref_frames, cpu = analyse(clip, regions=False)
            off_cpu.append(cpu)
            for k in variants:
                VARIANT[0] = policies[k]
                CHOOSERS.clear()
                tracks, frames, cpu = analyse(clip, regions=True)
                on_cpu[k].append(cpu)
                got[k] = (tracks, frames, CHOOSERS[-1])
        whole_s = statistics.median(off_cpu)
        for k in variants:
            tracks, frames, chooser = got[k]
            looked = chooser.crops + chooser.full
            results[f"{name} @{k}"] = compare(ref, tracks, fps) | {
                "clip": name,
                "variant": k,
                "skipped": chooser.skipped,
                "frames_analysed": [ref_frames, frames],
                "cropped_share": round(chooser.crops / looked, 3) if looked else None,
                "crop_area_mean": round(chooser.crop_area / chooser.crops, 3) if chooser.crops else None,
                "crops_per_frame": round(chooser.crop_calls / chooser.crops, 2) if chooser.crops else None,
                "cpu_s": [round(whole_s, 2), round(statistics.median(on_cpu[k]), 2)],
                "cpu_s_rounds": [[round(c, 2) for c in off_cpu], [round(c, 2) for c in on_cpu[k]]],
                "saving": round(whole_s / statistics.median(on_cpu[k]), 2),
            }
    table = Table(title="motion regions against whole frames (yolox-nano, gate on, 1 thread)")
    for column in (
        "clip",
        "crops:every",
        "tracks ref/regions",
        "missed",
        "late >1 s",
        "median / max delay s",
        "cropped",
        "crop area",
        "crops/frame",
        "skipped",
        "CPU s",
        "x",
    ):
        table.add_column(column, justify="right")
    for r in results.values():
        table.add_row(
            r["clip"],
            r["variant"],
            f"{r['reference_tracks']} / {r['gated_tracks']}",
            str(r["missed"]),
            str(r["late_over_1s"]),
            f"{r['median_delay_s']} / {r['max_delay_s']}",
            f"{r['cropped_share']:.0%}",
            f"{r['crop_area_mean']}",
            f"{r['crops_per_frame']}",
            str(r["skipped"]),
            f"{r['cpu_s'][0]} -> {r['cpu_s'][1]}",
            f"{r['saving']}x",
        )
    out_console.print(table)
    if args.json:
        emit_json({"machine": machine_info(), "clips": results})


if __name__ == "__main__":
    main()
