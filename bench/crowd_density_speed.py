"""CSRNet fp32 vs int8: counting accuracy, time per image and peak memory, in one process.

The int8 graph is the one ``vigil models install`` writes (``csrnet/model-int8.onnx``, made by
:func:`vigil.models.quantize.quantize_csrnet_int8`: QDQ, per-channel int8 weights, uint8
activations, calibrated on ``src/vigil/models/calibration/*.jpg``) unless ``--int8`` names another.
Then, on each image of the labelled set (ShanghaiTech layout), both graphs run back to back in
alternating order (interleaved, so load from other jobs hits both alike); the detector (the
configured one, 3×3 tiles as in ``vigil crowd eval``) runs once per image and its boxes serve both
combined counts. Peak RSS is measured in a fresh child process per precision (session + one
frame; VmHWM), next to the peak of the same child without a session.

    nice -n 10 .venv/bin/python bench/crowd_density_speed.py [--data ../shared/data/crowd/train] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchlib import SHARED_DATA, emit_json, machine_info, models_dir, note
from vigil.config import VigilConfig
from vigil.core.onnx_session import make_session
from vigil.crowd.combine import combined_count, split_density
from vigil.crowd.dataset import count_errors, head_points, list_images
from vigil.crowd.density import DensityEstimator
from vigil.crowd.evaluate import _read
from vigil.crowd.tiling import tiled
from vigil.detect.yolo import YoloDetector

PRECISIONS = ("fp32", "int8")

# Child process: RSS of one CSRNet session after one frame (or of the bare interpreter + imports).
_RSS_CHILD = """
import sys
from pathlib import Path
import numpy as np
from vigil.crowd.density import DensityEstimator
from vigil.core.onnx_session import make_session
model, width, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
if model != "-":
    DensityEstimator(make_session(Path(model), threads), width).estimate(np.zeros((768, 1024, 3), np.uint8))
# VmHWM, not ru_maxrss: Linux keeps ru_maxrss across exec, so a child would report this process's peak.
status = Path("/proc/self/status").read_text().splitlines()
print(next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")))
"""


def peak_rss_mib(model: Path | None, width: int, threads: int) -> float:
    """Peak RSS (MiB) of a fresh process that loads ``model`` and runs one 1024×768 frame."""
    done = subprocess.run(
        [sys.executable, "-c", _RSS_CHILD, str(model) if model else "-", str(width), str(threads)],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(done.stdout.split()[-1]) / 1024.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SHARED_DATA / "crowd" / "train")
    parser.add_argument("--int8", type=Path, default=None, help="an int8 CSRNet graph (default: the installed one)")
    parser.add_argument("--json", action="store_true", help="last line of stdout: one JSON object")
    args = parser.parse_args()
    if not args.data.is_dir():
        sys.exit(f"crowd set not found at {args.data}")

    cfg = VigilConfig(models_dir=models_dir())
    width, threads = cfg.crowd.density_input_width, cfg.crowd.threads
    fp32 = models_dir() / "csrnet" / "model.onnx"
    paths = {"fp32": fp32, "int8": args.int8 or models_dir() / "csrnet" / "model-int8.onnx"}
    estimators = {p: DensityEstimator(make_session(paths[p], threads), width) for p in PRECISIONS}
    yolo = YoloDetector(
        models_dir() / cfg.detector.model / cfg.detector.model_file,
        input_size=cfg.detector.input_size,
        confidence=cfg.detector.confidence,
        nms_iou=cfg.detector.nms_iou,
        class_ids=(0,),
        threads=cfg.detector.threads,
    )
    count_detector = tiled(lambda image: yolo.detect(image).xyxy, cfg.crowd.count_tiles)
    truth: list[int] = []
    ms: dict[str, list[float]] = {p: [] for p in PRECISIONS}
    density: dict[str, list[float]] = {p: [] for p in PRECISIONS}
    combined: dict[str, list[float]] = {p: [] for p in PRECISIONS}
    items = list_images(args.data)
    for i, item in enumerate(items):
        image = _read(item.image)
        truth.append(int(head_points(item.truth).shape[0]))
        boxes = count_detector(image)
        order = PRECISIONS if i % 2 == 0 else PRECISIONS[::-1]
        for p in order:
            dmap = estimators[p].estimate(image)
            ms[p].append(dmap.ms)
            density[p].append(dmap.count)
            combined[p].append(combined_count(len(boxes), split_density(dmap, boxes, cfg.crowd.density_floor)))
        note(f"{i + 1}/{len(items)} {item.image.name}: " + ", ".join(f"{p} {ms[p][-1]:.0f} ms" for p in PRECISIONS))
    del estimators
    base_rss = peak_rss_mib(None, width, threads)
    rss = {p: peak_rss_mib(paths[p], width, threads) for p in PRECISIONS}
    sizes = {p: paths[p].stat().st_size / 2**20 for p in PRECISIONS}

    def errors(values: list[float]) -> dict[str, float]:
        e = count_errors(values, truth)
        return {"mae": round(e.mae, 3), "rmse": round(e.rmse, 3), "bias": round(e.bias, 3)}

    result: dict[str, Any] = {
        "data": str(args.data),
        "n": len(truth),
        "input_width": width,
        "threads": threads,
        "detector": cfg.detector.model_file,
        "count_tiles": cfg.crowd.count_tiles,
        "machine": machine_info(),
        "baseline_peak_rss_mib": round(base_rss, 1),
    }
    for p in PRECISIONS:
        result[p] = {
            "density": errors(density[p]),
            "combined": errors(combined[p]),
            "ms_median": round(statistics.median(ms[p]), 1),
            "peak_rss_mib": round(rss[p], 1),
            "model_mib": round(sizes[p], 1),
        }
    result["ratio_ms_int8_fp32"] = round(statistics.median(ms["int8"]) / statistics.median(ms["fp32"]), 3)
    pairs = list(zip(ms["int8"], ms["fp32"], strict=True))
    result["per_image_ratio_median"] = round(statistics.median(a / b for a, b in pairs), 3)
    result["combined_mae_change"] = round(result["int8"]["combined"]["mae"] - result["fp32"]["combined"]["mae"], 3)
    sums = list(zip(density["int8"], density["fp32"], strict=True))
    result["density_sum_change_mean"] = round(statistics.fmean(a - b for a, b in sums), 3)
    if args.json:
        emit_json(result)
    else:
        print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
