"""The CCT graphs side by side (``CCT_PARALLEL``) against one at a time on two intra-op threads.

Builds the default reader twice in one process: as the product does now (each graph a session of
one intra-op thread, ``plates.threads`` runs at once: v2 beside v1, a batch read by one graph
split) and as before (``CCT_PARALLEL`` False: one graph at a time, ``plates.threads`` intra-op
threads each). On every US crop and every labelled US scene box (10 % margin) it checks that the
graphs' outputs are the same bit for bit both ways (a plate's two ``CROP_BORDERS`` views read by v2
and v1; its four ``CHOSEN_VIEWS``-like views; eight plates read by v2 alone, as a scene's candidate
rows are), then times, interleaved per plate (the order alternated) with a short pause before
each: ``read_crop`` each way, the two graphs on a plate's two views each way, v2 alone on a batch
of eight each way. Prints JSON: ms mean / median / p95, CPU ms, ratios (now / before), CPU model,
load before and after, peak RSS.

    .venv/bin/python bench/plates_cct_parallel.py [N]     # N plates timed (default all 598)
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from benchlib import models_dir
from plates_crop_gate import labelled_plates
from vigil.config.plates import PlatesConfig
from vigil.plates.reader import CROP_BORDERS, PlateReader, _with_border
from vigil.workers import plates_stage

PAUSE_S = 0.02


def _cpu() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def _reader(parallel: bool) -> PlateReader:
    before = plates_stage.CCT_PARALLEL
    plates_stage.CCT_PARALLEL = parallel
    try:
        return plates_stage.build_plate_reader(PlatesConfig(text_detector_runtime="onnxruntime"), models_dir())
    finally:
        plates_stage.CCT_PARALLEL = before


def _stats(ms: list[float]) -> dict[str, float]:
    return {
        "ms_mean": round(statistics.fmean(ms), 2),
        "ms_median": round(statistics.median(ms), 2),
        "ms_p95": round(float(np.percentile(ms, 95)), 2),
    }


def main() -> int:
    plates = [plate for *_, plate in labelled_plates()]
    n = int(sys.argv[1]) if len(sys.argv) > 1 else len(plates)
    readers = {"now": _reader(True), "before": _reader(False)}
    ccts = {k: r._cct for k, r in readers.items()}
    assert ccts["now"] is not None and ccts["before"] is not None
    now, before = ccts["now"], ccts["before"]
    assert now.workers == PlatesConfig().threads and before.workers == 1
    # 1. the same numbers, bit for bit
    same = differ = 0
    for i, plate in enumerate(plates):
        views = [_with_border(plate, f) for f in CROP_BORDERS]
        chosen = [*views, _with_border(plate, 0.15), _with_border(plate, 0.1)]
        group = plates[i : i + 8]
        for crops, partner in ((views, True), (chosen, True), (group, False)):
            a = now._run_graphs(crops, now._partner if partner else None)
            b = before._run_graphs(crops, before._partner if partner else None)
            flat_a = [x for pair in (a[0], *(a[1:] if a[1] else ())) for x in pair if x is not None]
            flat_b = [x for pair in (b[0], *(b[1:] if b[1] else ())) for x in pair if x is not None]
            ok = len(flat_a) == len(flat_b) and all(np.array_equal(x, y) for x, y in zip(flat_a, flat_b, strict=True))
            same += ok
            differ += not ok
    # 2. time, interleaved
    load_before = os.getloadavg()[0]
    ways: dict[str, Callable[[Any, int], object]] = {}
    for name in ("now", "before"):
        reader, cct = readers[name], ccts[name]
        assert cct is not None
        ways[f"read_crop_{name}"] = lambda p, i, r=reader: r.read_crop(p)
        ways[f"graphs_two_views_{name}"] = lambda p, i, c=cct: c.read_views([_with_border(p, f) for f in CROP_BORDERS])
        ways[f"v2_batch8_{name}"] = lambda p, i, c=cct: c.read(plates[i : i + 8], with_partner=False)
    for way in ways.values():  # warm every session
        way(plates[0], 0)
    wall: dict[str, list[float]] = {k: [] for k in ways}
    cpu: dict[str, list[float]] = {k: [] for k in ways}
    names = list(ways)
    for i, plate in enumerate(plates[:n]):
        order = names if i % 2 == 0 else names[::-1]
        for name in order:
            time.sleep(PAUSE_S)
            c0, t0 = time.process_time(), time.perf_counter()
            ways[name](plate, i)
            wall[name].append(1000.0 * (time.perf_counter() - t0))
            cpu[name].append(1000.0 * (time.process_time() - c0))
    out: dict[str, Any] = {
        "n_identity": len(plates),
        "identical_runs": same,
        "differing_runs": differ,
        "n_timed": min(n, len(plates)),
        "cpu": _cpu(),
        "cores": os.cpu_count(),
        "threads": PlatesConfig().threads,
        "timing": {k: _stats(v) | {"cpu_ms_mean": round(statistics.fmean(cpu[k]), 2)} for k, v in wall.items()},
    }
    for what in ("read_crop", "graphs_two_views", "v2_batch8"):
        a, b = wall[f"{what}_now"], wall[f"{what}_before"]
        out[f"ratio_{what}"] = {
            "mean": round(statistics.fmean(a) / statistics.fmean(b), 3),
            "median": round(statistics.median(a) / statistics.median(b), 3),
        }
    out["load_average_before_after"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    out["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
