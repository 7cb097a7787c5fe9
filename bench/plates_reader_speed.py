"""The default plate reader (CCT-XS v2, PP-OCRv6 as second opinion) against today's reader before
it (PP-OCRv6 alone), in one process on the same images, interleaved per image so machine noise
falls on both alike:

* a whole scene (``read_scene``) of the first N US scenes, ms mean / median / p95, and the ratio;
* a plate read: the labelled plate box (10 % margin) read by the CCT graph alone, by the whole
  default ``read_crop`` (second opinion included where it is asked), and by PP-OCRv6's ``read_crop``.

``cct_serial`` is the default reader as it was until 2026-12-07's eleventh round: the CCT graphs one
at a time on ``plates.threads`` intra-op threads (``CCT_PARALLEL`` False), to give the parallel
graphs their ratio (a plate's ``read_crop`` above all). ``cct_before`` is the default reader as it
was until 2026-12-06: PP-OCR's sessions as rapidocr
makes them (memory arena off, idle threads spinning) and the 960-px scene text pass on every
scene (no ``SCENE_TEXT_SURE`` gate), to give this round's changes their ratio.
Each read is preceded by an untimed 50 ms pause, so that one reader's spinning threads do not
run into the next reader's timing (within one reader they do, as in the product).

Prints JSON with the CPU model, ONNX Runtime threads, the load average before and after (the
machine is shared: say so when it was busy) and peak RSS.

    .venv/bin/python bench/plates_reader_speed.py [N]
"""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from benchlib import models_dir
from vigil.config.plates import PlatesConfig
from vigil.plates.eval import FOUND_IOU, load_labels, read_image
from vigil.plates.localise import box_iou
from vigil.plates.ocr import RapidTextEngine
from vigil.workers import plates_stage
from vigil.workers.plates_stage import build_plate_reader

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "plates" / "us"
PAUSE_S = 0.05


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def stats(values: list[float]) -> dict[str, float]:
    return {
        "ms_mean": round(statistics.fmean(values), 2),
        "ms_median": round(statistics.median(values), 2),
        "ms_p95": round(float(np.percentile(values, 95)), 2),
    }


def main() -> int:
    if not DATA.is_dir():
        print(f"skipped: no labelled scenes at {DATA}", file=sys.stderr)
        return 0
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 60
    _, items = load_labels(DATA)
    items = items[:n]
    load_before = os.getloadavg()
    plates_stage.CCT_PARALLEL = False
    serial = build_plate_reader(PlatesConfig(), models_dir())
    plates_stage.CCT_PARALLEL = True
    readers = {
        "cct": build_plate_reader(PlatesConfig(), models_dir()),
        "cct_serial": serial,
        "cct_before": build_plate_reader(PlatesConfig(), models_dir()),
        "ppocr": build_plate_reader(PlatesConfig(recogniser="ppocr"), models_dir()),
    }
    readers["cct_before"]._ocr = RapidTextEngine(threads=PlatesConfig().threads, own_sessions=False)
    readers["cct_before"].scene_text_sure = 1.01
    cct_graph = readers["cct"]._cct  # the graph alone, for the per-plate figure
    serial_graph = readers["cct_serial"]._cct
    assert cct_graph is not None and serial_graph is not None
    first = read_image(items[0].image)
    for reader in readers.values():
        reader.read_scene(first)  # load every model once
    scene: dict[str, list[float]] = {k: [] for k in readers}
    plate: dict[str, list[float]] = {
        "cct_graph": [],
        "cct_serial_graph": [],
        "cct_read_crop": [],
        "cct_serial_read_crop": [],
        "cct_before_read_crop": [],
        "ppocr_read_crop": [],
    }
    exact = dict.fromkeys(readers, 0)
    found = dict.fromkeys(readers, 0)
    for item in items:
        image = read_image(item.image)
        for name, reader in readers.items():
            time.sleep(PAUSE_S)
            t0 = time.perf_counter()
            reads = reader.read_scene(image)
            scene[name].append(1000.0 * (time.perf_counter() - t0))
            exact[name] += bool(reads) and reads[0].text == item.plate
            found[name] += bool(reads) and item.box is not None and box_iou(reads[0].box, item.box) > FOUND_IOU
        assert item.box is not None
        x1, y1, x2, y2 = item.box
        mx, my = 0.1 * (x2 - x1), 0.1 * (y2 - y1)
        h, w = image.shape[:2]
        crop = image[max(0, int(y1 - my)) : min(h, int(y2 + my)), max(0, int(x1 - mx)) : min(w, int(x2 + mx))]
        for name, read in (
            ("cct_graph", lambda c=crop: cct_graph.read([c])),
            ("cct_serial_graph", lambda c=crop: serial_graph.read([c])),
            ("cct_read_crop", lambda c=crop: readers["cct"].read_crop(c)),
            ("cct_serial_read_crop", lambda c=crop: readers["cct_serial"].read_crop(c)),
            ("cct_before_read_crop", lambda c=crop: readers["cct_before"].read_crop(c)),
            ("ppocr_read_crop", lambda c=crop: readers["ppocr"].read_crop(c)),
        ):
            time.sleep(PAUSE_S)
            t0 = time.perf_counter()
            read()
            plate[name].append(1000.0 * (time.perf_counter() - t0))
    base = statistics.fmean(scene["ppocr"])
    before = statistics.fmean(scene["cct_before"])
    out: dict[str, object] = {
        "n": len(items),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "onnxruntime_threads": PlatesConfig().threads,
        "scene": {
            name: stats(v)
            | {
                "ratio_to_ppocr": round(statistics.fmean(v) / base, 3),
                "ratio_to_cct_before": round(statistics.fmean(v) / before, 3),
                "exact": exact[name],
                "found": found[name],
            }
            for name, v in scene.items()
        },
        "plate": {name: stats(v) for name, v in plate.items()},
        "plate_ratio_cct_to_ppocr": round(
            statistics.fmean(plate["cct_read_crop"]) / statistics.fmean(plate["ppocr_read_crop"]), 3
        ),
        "plate_ratio_cct_to_cct_serial": {
            "mean": round(
                statistics.fmean(plate["cct_read_crop"]) / statistics.fmean(plate["cct_serial_read_crop"]), 3
            ),
            "median": round(
                statistics.median(plate["cct_read_crop"]) / statistics.median(plate["cct_serial_read_crop"]), 3
            ),
        },
        "scene_ratio_cct_to_cct_serial": round(
            statistics.fmean(scene["cct"]) / statistics.fmean(scene["cct_serial"]), 3
        ),
        "plate_ratio_cct_to_cct_before": round(
            statistics.fmean(plate["cct_read_crop"]) / statistics.fmean(plate["cct_before_read_crop"]), 3
        ),
        "load_average_before_after": [round(load_before[0], 1), round(os.getloadavg()[0], 1)],
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
