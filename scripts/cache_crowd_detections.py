"""Cache person detections (with scores) on the shared crowd sets, for choosing the count rule.

Runs Vigil's configured person detector (product venv) on each image's whole frame and on its
2x2 and 3x3 overlapping tiles (vigil.crowd.tiling) at a low confidence, so that rules with any
confidence and tile setting can be scored from the cache without running the detector again.

    nice -n 10 .venv/bin/python scripts/cache_crowd_detections.py [--precision int8]
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from vigil.crowd.dataset import list_images
from vigil.crowd.tiling import tile_origins
from vigil.detect.yolo import YoloDetector

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "crowd"
CACHE = ROOT / "build" / "crowd-det"
SETS = ("shanghaitech_b_train", "mall_dev", "train", "shanghaitech_a_train")
LOW_CONFIDENCE = 0.05
log = logging.getLogger("cache_crowd_detections")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--precision", choices=("int8", "fp32"), default="int8")
    parser.add_argument("--sets", nargs="+", default=list(SETS))
    parser.add_argument("--stride", type=int, default=1, help="every n-th image only (natural order)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stdout)
    model = (
        ROOT
        / "vigil-data"
        / "models"
        / "yolov4-tiny"
        / ("model-int8.onnx" if args.precision == "int8" else "model.onnx")
    )
    yolo = YoloDetector(model, input_size=416, confidence=LOW_CONFIDENCE, nms_iou=0.45, class_ids=(0,), threads=2)
    for name in args.sets:
        folder = CACHE / args.precision / name
        folder.mkdir(parents=True, exist_ok=True)
        items = list_images(DATA / name)[:: args.stride]
        started, done = time.perf_counter(), 0
        for i, item in enumerate(items):
            target = folder / f"{item.image.stem}.npz"
            if target.exists():
                continue
            image = cv2.imread(str(item.image), cv2.IMREAD_COLOR)
            h, w = image.shape[:2]
            out: dict[str, np.ndarray] = {}
            for grid in (1, 2, 3):
                boxes, scores = [], []
                for x0, y0, tw, th in tile_origins(w, h, grid):
                    det = yolo.detect(np.ascontiguousarray(image[y0 : y0 + th, x0 : x0 + tw]))
                    boxes.append(det.xyxy.reshape(-1, 4) + np.array([x0, y0, x0, y0], dtype=np.float32))
                    scores.append(np.asarray(det.confidence, dtype=np.float32).reshape(-1))
                out[f"boxes{grid}"] = np.concatenate(boxes).astype(np.float32)
                out[f"scores{grid}"] = np.concatenate(scores).astype(np.float32)
            tmp = target.with_suffix(".tmp.npz")
            np.savez(tmp, frame=np.array([w, h]), **out)
            tmp.rename(target)
            done += 1
            if done % 20 == 0:
                log.info("%s: %d/%d, %.1f s per image", name, i + 1, len(items), (time.perf_counter() - started) / done)
        log.info("%s: all %d cached", name, len(items))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
