"""Cache CSRNet's last hidden features (``backend_10_relu``, 64 channels at 1/8 of the input) for
fitting a per-camera density head (issue 22, docs/crowd.md "Per-camera density head").

Per image, with the installed default CSRNet (its configured precision) at the frame's own width
(at most ``--max-width``): ``feat`` (64, h, w) float16, ``density`` (h, w) the stock output,
``points`` the labelled heads (frame pixels), ``ms``.

    nice -n 10 .venv/bin/python bench/crowd_head_cache.py --sets mall_dev --stride 2

Writes ``build/crowd-head-cache/<set>/<image>.npz`` (ignored by git; reruns skip cached images).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

from vigil.config import VigilConfig
from vigil.config.load import apply_env
from vigil.crowd.dataset import head_points, list_images
from vigil.crowd.density import prepare
from vigil.crowd.evaluate import _read

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "crowd"
CACHE = ROOT / "build" / "crowd-head-cache"


def feature_session(model: Path, threads: int) -> ort.InferenceSession:
    """The CSRNet graph with ``backend_10_relu`` as a second output."""
    proto = onnx.load(str(model))
    proto.graph.output.append(onnx.helper.make_tensor_value_info("backend_10_relu", onnx.TensorProto.FLOAT, None))
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(proto.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=["mall_dev"])
    parser.add_argument("--stride", type=int, default=1, help="every n-th image only (natural order)")
    parser.add_argument("--max-width", type=int, default=1024)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cache", type=Path, default=CACHE)
    args = parser.parse_args(argv)
    cfg = apply_env(VigilConfig())
    model = cfg.resolved_models_dir / "csrnet" / cfg.crowd.density_model_file
    session = feature_session(model, args.threads)
    for name in args.sets:
        root = DATA / name
        out = args.cache / name
        out.mkdir(parents=True, exist_ok=True)
        images = list_images(root)[:: args.stride]
        for i, path in enumerate(images):
            dest = out / f"{path.image.stem}.npz"
            if dest.exists():
                continue
            image = _read(path.image)
            blob = prepare(image, args.max_width)
            t = time.perf_counter()
            density, feat = session.run(["density", "backend_10_relu"], {"image": blob})
            ms = (time.perf_counter() - t) * 1000
            pts = head_points(path.truth)
            np.savez_compressed(
                dest,
                feat=feat[0].astype(np.float16),
                density=density[0, 0],
                points=pts,
                ms=ms,
                frame=np.array(image.shape[:2]),
            )
            print(f"{name} {i + 1}/{len(images)} {path.image.stem} {ms:.0f} ms", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
