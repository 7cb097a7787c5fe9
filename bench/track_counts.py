"""Tracks counted on the clips with the old and the new default detector (golden figures).

Every clip in ``tests/track/track_counts.py`` through ``analyze_recording()`` with the default
config (5 analysed fps, motion gate on), once with YOLOv4-tiny (int8, the default before) and
once with YOLOX-Nano; prints tracks by class and, with ``--write-golden``, stores them in
``tests/golden/tracks.json`` (recomputed by ``tests/track/test_track_counts_golden.py``).

Run: ``OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/track_counts.py [--write-golden] [--json]``
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from rich.table import Table

from benchlib import REPO_ROOT, emit_json, machine_info, models_dir, note, out_console, quiet_logs

sys.path.insert(0, str(REPO_ROOT / "tests" / "track"))
from track_counts import CLIPS, DETECTORS, count_tracks

GOLDEN = REPO_ROOT / "tests" / "golden" / "tracks.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--write-golden", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    quiet_logs()
    counts: dict[str, dict[str, dict[str, int]]] = {}
    seconds: dict[str, dict[str, float]] = {}
    for name, clip in CLIPS.items():
        for model in DETECTORS:
            note(f"{name}: {model}")
            t0 = time.perf_counter()
            counts.setdefault(name, {})[model] = count_tracks(clip, model, models_dir(), args.threads)
            seconds.setdefault(name, {})[model] = round(time.perf_counter() - t0, 1)
    table = Table(title="tracks by class, analyze_recording() with the default config")
    table.add_column("clip")
    for model in DETECTORS:
        table.add_column(model)
        table.add_column("s", justify="right")
    for name, by_model in counts.items():
        cells: list[str] = [name]
        for model in DETECTORS:
            cells += [", ".join(f"{k} {v}" for k, v in by_model[model].items()) or "-", f"{seconds[name][model]}"]
        table.add_row(*cells)
    out_console.print(table)
    golden: dict[str, Any] = {
        "settings": "analyze_recording(), default config (5 analysed fps, motion gate on, tracker defaults); "
        "yolov4-tiny at int8 (its default precision), yolox-nano fp32",
        "tolerance": "per class: max(1, 20% of the golden count)",
        "clips": counts,
    }
    if args.write_golden:
        GOLDEN.write_text(json.dumps(golden, indent=2) + "\n", encoding="utf-8")
        note(f"wrote {GOLDEN}")
    if args.json:
        emit_json({"machine": machine_info(), "seconds": seconds, **golden})


if __name__ == "__main__":
    main()
