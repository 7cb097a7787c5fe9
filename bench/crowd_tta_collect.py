"""Crowd counting experiments: cache raw detector / CSRNet outputs for many detection variants.

One ``.npz`` per image under ``--out`` (resumable). For each precision, detector input size
(416, 608), mirror (0, 1) and tile grid (1, 2, 3) it stores the person boxes (frame pixels,
already un-mirrored) with their confidences at confidence 0.05 from every tile; CSRNet density at
the listed widths, plain and of the mirrored image (un-mirrored). Evaluation: crowd_tta_eval.py.

    nice -n 15 .venv/bin/python bench/crowd_tta_collect.py --out /tmp/crowd_tta [--precision int8]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from benchlib import SHARED_DATA, models_dir
from vigil.core.onnx_session import make_session
from vigil.crowd.dataset import head_points, list_images
from vigil.crowd.density import DensityEstimator
from vigil.crowd.evaluate import _read
from vigil.crowd.tiling import tile_origins
from vigil.detect.yolo import YoloDetector


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--data", type=Path, default=SHARED_DATA / "crowd" / "train")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--precision", nargs="+", default=["int8"])
    p.add_argument("--sizes", nargs="+", type=int, default=[416, 608])
    p.add_argument("--grids", nargs="+", type=int, default=[1, 2, 3])
    p.add_argument("--csr", nargs="+", type=int, default=[384])
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    files = {"int8": "model-int8.onnx", "fp32": "model.onnx"}
    dets = {
        (prec, size): YoloDetector(
            models_dir() / "yolov4-tiny" / files[prec], input_size=size, confidence=0.05, class_ids=(0,), threads=1
        )
        for prec in args.precision
        for size in args.sizes
    }
    csr = make_session(models_dir() / "csrnet" / "model.onnx", 1)
    ests = {w: DensityEstimator(csr, w) for w in args.csr}
    for item in list_images(args.data):
        name = item.image.stem
        target = args.out / f"{name}.npz"
        out: dict[str, np.ndarray] = {}
        if target.is_file():
            with np.load(target) as z:
                out = {k: z[k] for k in z.files}
        image = _read(item.image)
        h, w = image.shape[:2]
        out["truth"] = head_points(item.truth)
        out["frame"] = np.array([w, h])
        for (prec, size), yolo in dets.items():
            for flip in (0, 1):
                src = np.ascontiguousarray(image[:, ::-1]) if flip else image
                for grid in args.grids:
                    key = f"{prec}/{size}/{flip}/{grid}"
                    if f"{key}/xyxy" in out:
                        continue
                    boxes, confs, tile_idx = [], [], []
                    started = time.perf_counter()
                    for t, (x0, y0, tw, th) in enumerate(tile_origins(w, h, grid)):
                        r = yolo.detect(np.ascontiguousarray(src[y0 : y0 + th, x0 : x0 + tw]))
                        b = r.xyxy + np.array([x0, y0, x0, y0], dtype=np.float32)
                        if flip:
                            b = np.stack([w - b[:, 2], b[:, 1], w - b[:, 0], b[:, 3]], axis=1)
                        boxes.append(b.reshape(-1, 4).astype(np.float32))
                        confs.append(r.confidence)
                        tile_idx.append(np.full(len(r.confidence), t))
                    out[f"{key}/ms"] = np.array((time.perf_counter() - started) * 1000)
                    out[f"{key}/xyxy"] = np.concatenate(boxes)
                    out[f"{key}/conf"] = np.concatenate(confs)
                    out[f"{key}/tile"] = np.concatenate(tile_idx)
        for cw, est in ests.items():
            for flip in (0, 1):
                key = f"csr/{cw}/{flip}"
                if key in out:
                    continue
                src = np.ascontiguousarray(image[:, ::-1]) if flip else image
                d = est.estimate(src)
                out[key] = d.density[:, ::-1].copy() if flip else d.density
                out[f"{key}/ms"] = np.array(d.ms)
        np.savez_compressed(target, **out)  # type: ignore[arg-type]
        print(name, file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
