"""A plate read by the CCT graphs (v2 with v1 averaged in) at 1 and 2 ONNX Runtime threads.

The plate-trained recogniser's graphs are small (a 128×64 crop), so a second intra-op thread
may cost more in hand-over than it saves, most of all on a loaded machine. This reads each of
the first N US crops with the CCT graphs built with 2 threads (``plates.threads``) that spin
while waiting (ONNX Runtime's default, Vigil's until 2026-12-06), with 1 thread, and with 2
threads that do not spin (``CCT_SPIN``, now the default),
interleaved per crop (the order rotated) in one process, and prints ms per plate (mean, median,
p95) and CPU ms per plate (both threads together), each as a ratio to 2 threads, whether
the reads are identical, CPU model, load and peak RSS.

    .venv/bin/python bench/plates_cct_threads.py [N]
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchlib import SHARED_DATA, models_dir
from vigil.plates.cct import CctRecogniser
from vigil.plates.eval import load_labels, read_image
from vigil.workers import plates_stage


def _cpu() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def _build(threads: int, spin: bool) -> CctRecogniser:
    real = plates_stage.make_session

    def session(path: Path, n: int, **_: Any) -> Any:
        return real(path, n, spin=spin)

    plates_stage.make_session = session  # type: ignore[assignment]
    try:
        cct = plates_stage.build_cct("cct", models_dir(), threads)
    finally:
        plates_stage.make_session = real
    assert cct is not None
    return cct


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 376
    _, items = load_labels(SHARED_DATA / "plates" / "crops")
    crops = [read_image(it.image) for it in items[:n]]
    load_before = os.getloadavg()[0]
    modes = {
        "2 threads, spinning (before)": _build(2, True),
        "1 thread": _build(1, True),
        "2 threads, no spinning": _build(2, False),
    }
    for cct in modes.values():
        cct.read(crops[:2])  # warm up
    names = list(modes)
    ms: dict[str, list[float]] = {k: [] for k in names}
    cpu: dict[str, list[float]] = {k: [] for k in names}
    texts: dict[str, list[str]] = {k: [] for k in names}
    for i, crop in enumerate(crops):
        for name in names[i % len(names) :] + names[: i % len(names)]:
            c0, t0 = time.process_time(), time.perf_counter()
            (read,) = modes[name].read([crop])
            ms[name].append(1000 * (time.perf_counter() - t0))
            cpu[name].append(1000 * (time.process_time() - c0))
            texts[name].append(read.text)
    base = statistics.fmean(ms[names[0]])
    out = {
        "n": len(crops),
        "cpu": _cpu(),
        "cores": os.cpu_count(),
        "modes": {
            name: {
                "ms_mean": round(statistics.fmean(v), 2),
                "ms_median": round(statistics.median(v), 2),
                "ms_p95": round(float(np.percentile(v, 95)), 2),
                "ratio": round(statistics.fmean(v) / base, 3),
                "cpu_ms_mean": round(statistics.fmean(cpu[name]), 2),
                "cpu_ratio": round(statistics.fmean(cpu[name]) / statistics.fmean(cpu[names[0]]), 3),
                "reads_identical": texts[name] == texts[names[0]],
            }
            for name, v in ms.items()
        },
        "load_average_before_after": [round(load_before, 1), round(os.getloadavg()[0], 1)],
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
