"""The product's near-people count for every image of a gate-CV run (issue 22).

``bench/crowd_gate_cv.py`` scores a frame sent down the near path with the stock fp32 map at 384 px
for the sparse photos but, for Part B and Mall (no 384 px cache), with the stock full-resolution
map read as if it were 384 px wide. The product (``count_frame``) runs the installed int8 CSRNet at
``min(width, near_width)``. This bench computes what the product would count there, from the cached
person boxes, so the gate CV can be rerun with the product's near path (``--near int8``).

    OMP_NUM_THREADS=1 nice -n 19 .venv/bin/python bench/crowd_near_int8.py --cv build/crowd-train/w1024/cv-TAG

Writes ``near_int8.npz`` (``key``: ``set/stem``, ``near``: the combined count on the near path) in
the cv folder; images already there are kept, so it can be stopped and resumed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

import train_crowd_density as tcd

from benchlib import models_dir
from vigil.config import VigilConfig
from vigil.crowd.counter import CountRule, count_from_map
from vigil.crowd.dataset import list_images
from vigil.crowd.evaluate import _read
from vigil.workers.crowd_stage import build_density


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cv", type=Path, required=True, help="a cv output folder with gate_rows.npz")
    args = parser.parse_args(argv)
    rows = np.load(args.cv / "gate_rows.npz")
    out = args.cv / "near_int8.npz"
    done: dict[str, float] = {}
    if out.exists():
        with np.load(out) as z:
            done = dict(zip((str(k) for k in z["key"]), (float(v) for v in z["near"]), strict=True))
    cfg = VigilConfig(models_dir=models_dir())
    density = build_density(cfg, required=True)
    assert density is not None
    rule = CountRule.from_config(cfg.crowd)
    paths = {}
    for name in sorted({str(s) for s in rows["set"]}):
        for item in list_images(tcd.DATA / name):
            paths[f"{name}/{item.image.stem}"] = item.image
    todo = [f"{s}/{t}" for s, t in zip(rows["set"], rows["stem"], strict=True) if f"{s}/{t}" not in done]
    for n, key in enumerate(todo):
        name, stem = key.split("/")
        image = _read(paths[key])
        w = int(image.shape[1])
        boxes = np.load(tcd.CACHE / "boxes" / name / f"{stem}.npy")
        width = min(w, rule.near_width)
        dmap = density.estimate(image, input_width=width)
        done[key] = count_from_map(dmap, boxes, rule, near=True, input_width=width).combined
        if n % 50 == 49 or n == len(todo) - 1:  # keep what is done: the run can be stopped
            np.savez(out, key=np.array(list(done)), near=np.array(list(done.values())))
            print(f"{n + 1}/{len(todo)}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
