"""Cache what the counting step sees on the shared crowd sets, for choosing the rule by cross-validation.

Per image (issue 22), with the installed default models (int8 CSRNet, the configured person
detector with its precision, 3x3 tiles as ``crowd.count_tiles``):

* ``d384``: CSRNet density at 384 px wide (the step before issue 22, and the near-people path);
* ``dnat``: CSRNet density at the frame's own width (at most ``--max-width``);
* ``boxes``: the tiled person boxes the product counts with;
* ``points``: the labelled heads (frame pixels); ``ms_*``: the time of each part.

    nice -n 10 .venv/bin/python bench/crowd_cache.py --sets shanghaitech_b_train --stride 2

Writes ``build/crowd-cache/<set>/<image>.npz`` (ignored by git; reruns skip cached images).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

from vigil.config import VigilConfig
from vigil.config.load import apply_env
from vigil.crowd.dataset import head_points, list_images
from vigil.crowd.density import prepare
from vigil.crowd.evaluate import _read
from vigil.crowd.tiling import tiled
from vigil.workers.crowd_stage import build_tile_detector

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "crowd"
CACHE = ROOT / "build" / "crowd-cache"
log = logging.getLogger("crowd_cache")


def density_session(model: Path, threads: int) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(model), opts, providers=["CPUExecutionProvider"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=["train", "mall_dev", "shanghaitech_b_train"])
    parser.add_argument("--stride", type=int, default=1, help="every n-th image only (natural order)")
    parser.add_argument("--max-width", type=int, default=1024)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stdout)
    cfg = apply_env(VigilConfig())
    model = cfg.resolved_models_dir / "csrnet" / cfg.crowd.density_model_file
    session = density_session(model, args.threads)
    detector = tiled(build_tile_detector(cfg), cfg.crowd.count_tiles)
    for name in args.sets:
        folder = CACHE / name
        folder.mkdir(parents=True, exist_ok=True)
        items = list_images(DATA / name)[:: args.stride]
        started, done = time.perf_counter(), 0
        for i, item in enumerate(items):
            target = folder / f"{item.image.stem}.npz"
            if target.exists():
                continue
            image = _read(item.image)
            h, w = image.shape[:2]
            t0 = time.perf_counter()
            d384 = session.run(["density"], {"image": prepare(image, 384)})[0]
            t1 = time.perf_counter()
            dnat = session.run(["density"], {"image": prepare(image, min(w, args.max_width))})[0]
            t2 = time.perf_counter()
            boxes = detector(image)
            t3 = time.perf_counter()
            tmp = target.with_suffix(".tmp.npz")
            np.savez(
                tmp,
                frame=np.array([w, h]),
                d384=d384[0, 0].astype(np.float32),
                dnat=dnat[0, 0].astype(np.float32),
                boxes=np.asarray(boxes, dtype=np.float32).reshape(-1, 4),
                points=head_points(item.truth).astype(np.float32),
                ms=np.array([(t1 - t0) * 1000, (t2 - t1) * 1000, (t3 - t2) * 1000]),
            )
            tmp.rename(target)
            done += 1
            if done % 20 == 0:
                log.info("%s: %d/%d, %.2f s per image", name, i + 1, len(items), (time.perf_counter() - started) / done)
        log.info("%s: all %d cached", name, len(items))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
