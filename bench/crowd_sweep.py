"""Crowd counting: sweep of the combination rule's parameters, split-half and leave-one-out checks.

Runs YOLOv4-tiny (person only, confidence 0.05 so any higher threshold can be applied after)
on each image's whole frame and on its 2×2 overlapping tiles, and CSRNet at each width, once;
caches the raw outputs (``--cache``); then evaluates every combination of

* detector confidence (0.25: YOLO's usual default; 0.3: Vigil's detector default),
* tiles (1: whole frame; 2: whole frame + 2×2 tiles, :mod:`vigil.crowd.tiling`),
* CSRNet input width (384, 512),
* density floor (0.02 … 0.05),

with the same code as ``vigil crowd eval`` (:func:`merge_tile_boxes`, :func:`split_density`).
Generalisation checks: parameters chosen on one half of the images (odd / even index) and
scored on the other, and leave-one-out (each image counted with the parameters best on the
other 29). Times are per image on this machine (shared machines inflate them; compare ratios).

    .venv/bin/python bench/crowd_sweep.py [--data ../shared/data/crowd/train] [--cache /tmp/c.npz] [--json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

import numpy as np

from benchlib import SHARED_DATA, models_dir
from vigil.core.onnx_session import make_session
from vigil.crowd.combine import combined_count, split_density
from vigil.crowd.dataset import count_errors, head_points, list_images
from vigil.crowd.density import DensityEstimator, DensityMap
from vigil.crowd.evaluate import _read
from vigil.crowd.tiling import merge_tile_boxes, tile_origins
from vigil.detect.yolo import YoloDetector

CONFS = (0.25, 0.3)
TILES = (1, 2)
WIDTHS = (384, 512)
FLOORS = (0.02, 0.03, 0.04, 0.05)
DEFAULT = (0.3, 2, 384, 0.03)


def collect(data: Path, cache: Path | None) -> dict[str, np.ndarray]:
    if cache is not None and cache.is_file():
        with np.load(cache) as z:
            return {k: z[k] for k in z.files}
    out: dict[str, np.ndarray] = {}
    yolo = YoloDetector(models_dir() / "yolov4-tiny", input_size=416, confidence=0.05, class_ids=(0,), threads=2)
    csr = make_session(models_dir() / "csrnet" / "model.onnx", 2)
    estimators = {w: DensityEstimator(csr, w) for w in WIDTHS}
    for item in list_images(data):
        image, name = _read(item.image), item.image.stem
        out[f"{name}/truth"] = np.array(head_points(item.truth).shape[0])
        started = time.perf_counter()
        whole = yolo.detect(image)
        out[f"{name}/det_ms/1"] = np.array((time.perf_counter() - started) * 1000)
        out[f"{name}/full/xyxy"], out[f"{name}/full/conf"] = whole.xyxy, whole.confidence
        height, width = image.shape[:2]
        boxes, confs = [], []
        started = time.perf_counter()
        for x0, y0, tw, th in tile_origins(width, height, 2):
            r = yolo.detect(np.ascontiguousarray(image[y0 : y0 + th, x0 : x0 + tw]))
            boxes.append(r.xyxy + np.array([x0, y0, x0, y0], dtype=np.float32))
            confs.append(r.confidence)
        out[f"{name}/det_ms/2"] = np.array((time.perf_counter() - started) * 1000 + float(out[f"{name}/det_ms/1"]))
        out[f"{name}/tiles/xyxy"], out[f"{name}/tiles/conf"] = np.concatenate(boxes), np.concatenate(confs)
        out[f"{name}/frame"] = np.array([width, height])
        for w, est in estimators.items():
            dmap = est.estimate(image)
            out[f"{name}/csr/{w}"], out[f"{name}/csr_ms/{w}"] = dmap.density, np.array(dmap.ms)
        print(name, file=sys.stderr, flush=True)
    if cache is not None:
        np.savez_compressed(cache, **out)  # type: ignore[arg-type]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data", type=Path, default=SHARED_DATA / "crowd" / "train")
    parser.add_argument("--cache", type=Path, default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    z = collect(args.data, args.cache)
    names = sorted({k.split("/")[0] for k in z}, key=lambda s: int(s.rpartition("_")[2]))
    truth = np.array([int(z[f"{n}/truth"]) for n in names])

    def boxes(n: str, conf: float, tiles: int) -> np.ndarray:
        keep = z[f"{n}/full/conf"] >= conf
        whole = z[f"{n}/full/xyxy"][keep]
        if tiles == 1:
            return whole
        keep_t = z[f"{n}/tiles/conf"] >= conf
        # per-tile NMS already ran inside the detector; thresholding after NMS equals NMS after thresholding
        return merge_tile_boxes(whole, z[f"{n}/tiles/xyxy"][keep_t])

    preds: dict[tuple[float, int, int, float], np.ndarray] = {}
    det_only: dict[tuple[float, int], np.ndarray] = {}
    for conf, tiles in itertools.product(CONFS, TILES):
        bx = [boxes(n, conf, tiles) for n in names]
        det_only[(conf, tiles)] = np.array([len(b) for b in bx], dtype=np.float64)
        for w, floor in itertools.product(WIDTHS, FLOORS):
            counts = []
            for n, b in zip(names, bx, strict=True):
                fw, fh = (int(v) for v in z[f"{n}/frame"])
                dmap = DensityMap(z[f"{n}/csr/{w}"], fw, fh, 0.0)
                counts.append(combined_count(len(b), split_density(dmap, b, floor)))
            preds[(conf, tiles, w, floor)] = np.array(counts)

    def mae(p: np.ndarray, sel: np.ndarray | slice = slice(None)) -> float:
        return float(np.abs(p[sel] - truth[sel]).mean())

    report: dict[str, object] = {"n": len(names)}
    print("detection only (MAE / RMSE / bias):")
    for (conf, tiles), p in det_only.items():
        e = count_errors(list(p), list(truth))
        print(f"  conf {conf} tiles {tiles}: {e.mae:.2f} / {e.rmse:.2f} / {e.bias:+.2f}")
    for w in WIDTHS:
        dens = np.array([np.clip(z[f"{n}/csr/{w}"], 0, None).sum() for n in names])
        e = count_errors(list(dens), list(truth))
        ms = float(np.mean([float(z[f"{n}/csr_ms/{w}"]) for n in names]))
        print(f"density only, CSRNet {w} px: MAE {e.mae:.2f} RMSE {e.rmse:.2f} bias {e.bias:+.2f}, {ms:.0f} ms/image")
        report[f"density_{w}"] = {"mae": round(e.mae, 3), "rmse": round(e.rmse, 3), "ms": round(ms, 1)}
    for tiles in TILES:
        ms = float(np.mean([float(z[f"{n}/det_ms/{tiles}"]) for n in names]))
        print(f"detector 416 px, tiles {tiles}: {ms:.0f} ms/image")
        report[f"detector_ms_tiles_{tiles}"] = round(ms, 1)
    print("combined MAE by floor " + " ".join(f"{f:>5}" for f in FLOORS))
    for conf, tiles, w in itertools.product(CONFS, TILES, WIDTHS):
        row = " ".join(f"{mae(preds[(conf, tiles, w, f)]):5.2f}" for f in FLOORS)
        print(f"  conf {conf} tiles {tiles} CSRNet {w}: {row}")
    d = preds[DEFAULT]
    e = count_errors(list(d), list(truth))
    print(f"default rule {DEFAULT}: MAE {e.mae:.2f} RMSE {e.rmse:.2f} bias {e.bias:+.2f}")
    report["default"] = {"params": DEFAULT, "mae": round(e.mae, 3), "rmse": round(e.rmse, 3)}

    idx = np.arange(len(names))
    halves = (idx % 2 == 0, idx % 2 == 1)
    split: list[dict[str, object]] = []
    for fit_i, test_i in ((0, 1), (1, 0)):
        best = min(preds, key=lambda k: mae(preds[k], halves[fit_i]))
        entry: dict[str, object] = {
            "chosen_on": "even" if fit_i == 0 else "odd",
            "params": best,
            "fit_mae": round(mae(preds[best], halves[fit_i]), 3),
            "held_out_mae": round(mae(preds[best], halves[test_i]), 3),
            "default_held_out_mae": round(mae(d, halves[test_i]), 3),
        }
        split.append(entry)
        print(
            f"split-half: best on {entry['chosen_on']} images {best} (MAE {entry['fit_mae']}) -> other half "
            f"{entry['held_out_mae']}; default rule on that half {entry['default_held_out_mae']}"
        )
    loo = []
    for i in idx:
        rest = idx != i
        best = min(preds, key=lambda k: mae(preds[k], rest))
        loo.append(abs(preds[best][i] - truth[i]))
    print(f"leave-one-out MAE (parameters re-chosen on the other {len(names) - 1}): {np.mean(loo):.2f}")
    report["split_half"] = split
    report["leave_one_out_mae"] = round(float(np.mean(loo)), 3)
    if args.json:
        print(json.dumps(report))


if __name__ == "__main__":
    main()
