"""Detector speed in one process: every selectable detector on the same frames, interleaved.

Times the whole ``detect`` call (pre-processing, ONNX Runtime, decoding, NMS at the configured
confidence) per 768x576 frame of ``vtest.avi``, the models taking turns in rounds of 5 frames so
that a neighbour's load spike hits all of them alike; reports the median and the ratio to today's
default (YOLOv4-tiny int8) measured in the same run, on 1 and on 2 threads. Peak memory: each
model loaded and run in a fresh child process, its peak RSS above the same child's before loading.

Run: ``nice -n 10 .venv/bin/python bench/detector_speed.py [--frames 50] [--json]``
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import av
import numpy as np
from rich.table import Table

from benchlib import SHARED_DATA, emit_json, machine_info, models_dir, note, out_console
from vigil.config.detector import DETECTOR_MODELS, DetectorConfig
from vigil.detect.choice import ObjectDetector, open_detector
from vigil.models.install import require

CLIP = SHARED_DATA / "video" / "opencv" / "vtest.avi"
BASELINE = "yolov4-tiny int8"
ROUND = 5


def variants() -> list[tuple[str, str]]:
    return [(model, precision) for model, choice in DETECTOR_MODELS.items() for precision in choice.files]


def build(model: str, precision: str, threads: int) -> ObjectDetector:
    cfg = DetectorConfig(model=model, precision=precision)  # type: ignore[arg-type]
    return open_detector(
        cfg.choice.decoder,
        require(models_dir(), model) / cfg.model_file,
        input_size=cfg.input_size,
        confidence=cfg.confidence,
        nms_iou=cfg.nms_iou,
        class_ids=None,
        threads=threads,
    )


def frames(count: int) -> list[np.ndarray[Any, np.dtype[np.uint8]]]:
    out = []
    with av.open(str(CLIP)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index % 10 == 0:
                out.append(frame.to_ndarray(format="bgr24"))
            if len(out) == count:
                break
    return out


def speed(threads: int, images: list[Any]) -> dict[str, float]:
    detectors = {f"{m} {p}": build(m, p, threads) for m, p in variants()}
    times: dict[str, list[float]] = {name: [] for name in detectors}
    for det in detectors.values():  # warm-up: first runs allocate
        det.detect(images[0])
    for start in range(0, len(images), ROUND):
        for name, det in detectors.items():
            for image in images[start : start + ROUND]:
                t0 = time.perf_counter()
                det.detect(image)
                times[name].append((time.perf_counter() - t0) * 1000.0)
    return {name: statistics.median(t) for name, t in times.items()}


def vm_kib(field: str) -> int:
    """``VmRSS`` / ``VmHWM`` of this process, KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def child_peak_mib(model: str, precision: str) -> float:
    """Peak RSS added by loading one detector and running it on 10 frames (fresh process; the
    peak is reset after the frames are decoded, so decoding's own peak does not hide it)."""
    code = (
        "import sys, json; sys.path.insert(0, 'bench');"
        "import detector_speed as d;"
        "images = d.frames(10);"
        "open('/proc/self/clear_refs', 'w').write('5');"
        "before = d.vm_kib('VmRSS');"
        f"det = d.build({model!r}, {precision!r}, 1);"
        "[det.detect(i) for i in images];"
        "print(json.dumps((d.vm_kib('VmHWM') - before) / 1024))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=50)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    machine = machine_info()
    note(f"CPU: {machine['cpu_model']}, {machine['cpus']} cpus, load {machine['load_avg_at_start']}")
    images = frames(args.frames)
    results: dict[str, Any] = {"machine": machine, "frames": len(images), "clip": "vtest.avi 768x576", "ms": {}}
    for threads in (1, 2):
        note(f"{threads} thread(s): {len(images)} frames x {len(variants())} detectors")
        results["ms"][str(threads)] = speed(threads, images)
    results["peak_mib"] = {f"{m} {p}": round(child_peak_mib(m, p), 1) for m, p in variants()}
    results["self_peak_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    default = DetectorConfig()
    table = Table(title=f"detect() ms per 768x576 frame, median of {len(images)} ({machine['cpu_model']})")
    for column in ("detector", "1 thread", "x vs int8", "2 threads", "x vs int8", "peak MiB"):
        table.add_column(column, justify="right")
    for name in results["peak_mib"]:
        cells = [name + (" (default)" if name == f"{default.model} {default.resolved_precision}" else "")]
        for threads in ("1", "2"):
            ms = results["ms"][threads]
            cells += [f"{ms[name]:.1f}", f"{ms[BASELINE] / ms[name]:.2f}"]
        cells.append(f"{results['peak_mib'][name]:.0f}")
        table.add_row(*cells)
    out_console.print(table)
    note(f"load average after: {machine_info()['load_avg_at_start']}")
    if args.json:
        emit_json(results)


if __name__ == "__main__":
    main()
