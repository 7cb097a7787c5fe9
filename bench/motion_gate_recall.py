"""What the motion gate costs in missed or late objects, and what it saves, on the clips.

Every clip goes through ``analyze_recording()`` twice with the default config and the chosen
detector: with the capture's motion gate (the default: a still frame is not analysed, one frame
passes every ``keepalive_s``) and without it (every sampled frame detected). The tracks stored
without the gate are the reference; a reference track is *found* when a gated track of the same
class overlaps it in time, *late* by how much later the first such track starts (in seconds of video), *missed* when
none does. Extra gated tracks (a track split by skipped frames) are counted too. Saving: frames
analysed and wall time, gated over ungated, in the same process.

Run: ``OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/motion_gate_recall.py [--model yolox-nano] [--json]``
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import av
from rich.table import Table

from benchlib import REPO_ROOT, SHARED_DATA, emit_json, machine_info, models_dir, note, out_console, quiet_logs
from vigil.config import DetectorConfig, VigilConfig
from vigil.workers.analyze import analyze_recording

CLIPS = {
    "samples/people.mp4": REPO_ROOT / "samples" / "people.mp4",
    "samples/cars.mp4": REPO_ROOT / "samples" / "cars.mp4",
    "opencv/vtest.avi": SHARED_DATA / "video" / "opencv" / "vtest.avi",
}
Track = tuple[str, int, int]
"""Class, and the decoded-frame indices of a track's ``track.started`` and ``track.ended`` events
(stored times of a recording count from when its analysis began, so they differ between runs)."""

TRACK_SPAN = """
SELECT t.class_name, s.payload, e.payload FROM tracks t
JOIN events s ON s.track_id = t.track_id AND s.type = 'track.started'
JOIN events e ON e.track_id = t.track_id AND e.type = 'track.ended'
"""


def analyse(clip: Path, model: str, gate: bool) -> tuple[list[Track], int, float]:
    """Tracks (class, first and last frame index), frames analysed and wall seconds of one analysis."""
    with tempfile.TemporaryDirectory(prefix="vigil-gate-") as tmp:
        cfg = VigilConfig(data_dir=Path(tmp), models_dir=models_dir(), detector=DetectorConfig(model=model))  # type: ignore[arg-type]
        t0 = time.perf_counter()
        summary = analyze_recording(clip, cfg, motion_gate=gate)
        wall = time.perf_counter() - t0
        with sqlite3.connect(Path(tmp) / "vigil.db") as db:
            rows = db.execute(TRACK_SPAN).fetchall()
    tracks = [(c, int(json.loads(a)["frame_index"]), int(json.loads(b)["frame_index"])) for c, a, b in rows]
    return tracks, summary.frames_analysed, wall


def compare(reference: list[Track], gated: list[Track], fps: float) -> dict[str, Any]:
    delays: list[float] = []
    missed = 0
    for cls, first, last in reference:
        overlapping = [g for g in gated if g[0] == cls and g[1] <= last and g[2] >= first]
        if not overlapping:
            missed += 1
            continue
        delays.append(max(0.0, (min(g[1] for g in overlapping) - first) / fps))
    return {
        "reference_tracks": len(reference),
        "gated_tracks": len(gated),
        "missed": missed,
        "late_over_1s": sum(d > 1.0 for d in delays),
        "median_delay_s": round(statistics.median(delays), 2) if delays else None,
        "max_delay_s": round(max(delays), 2) if delays else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=DetectorConfig().model)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    quiet_logs()
    results: dict[str, Any] = {}
    for name, clip in CLIPS.items():
        if not clip.is_file():
            note(f"{name}: not found, skipped")
            continue
        note(f"{name}: without the gate, then with it ({args.model})")
        ref, ref_frames, ref_wall = analyse(clip, args.model, gate=False)
        got, frames, wall = analyse(clip, args.model, gate=True)
        with av.open(str(clip)) as container:
            fps = float(container.streams.video[0].average_rate or 10)
        results[name] = compare(ref, got, fps) | {
            "frames_analysed": [ref_frames, frames],
            "frames_ratio": round(frames / ref_frames, 3) if ref_frames else None,
            "wall_s": [round(ref_wall, 1), round(wall, 1)],
            "speed_up": round(ref_wall / wall, 2) if wall else None,
        }
    table = Table(title=f"motion gate against every sampled frame ({args.model})")
    for column in ("clip", "tracks ref/gated", "missed", "late >1 s", "median / max delay s", "frames", "speed-up"):
        table.add_column(column, justify="right")
    for name, r in results.items():
        table.add_row(
            name,
            f"{r['reference_tracks']} / {r['gated_tracks']}",
            str(r["missed"]),
            str(r["late_over_1s"]),
            f"{r['median_delay_s']} / {r['max_delay_s']}",
            f"{r['frames_analysed'][0]} -> {r['frames_analysed'][1]}",
            f"{r['speed_up']}x",
        )
    out_console.print(table)
    if args.json:
        emit_json({"machine": machine_info(), "model": args.model, "clips": results})


if __name__ == "__main__":
    main()
