"""The installed two-tail CSRNet (model csrnet-tail, recipe 2: the tail's weights under 1e-20 stored as
0) against the same graph with the tuned layers exactly as shipped in ``csrnet_tail.npz`` (recipe 1),
on real labelled images, through the product's counting path (docs/crowd.md, seventh round).

For each image, :func:`vigil.crowd.counter.count_frame` with ``crowd.density_tail: tuned`` runs once
per graph, in alternating order (interleaved, so load from other jobs hits both alike), on the same
person boxes (the tiled detector runs once per image: the two graphs differ only after it). Reported
per set: images whose stock and tuned maps are bit-identical, the largest map difference, the count
difference |recipe 2 - recipe 1| (mean and max, relative to the recipe-1 count), MAE of both against
the ground truth, and the median time of the density part of the step (CSRNet + counting) and its
ratio.

    nice -n 10 .venv/bin/python bench/crowd_tail_subnormal_check.py [--every 10] [--json]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from benchlib import SHARED_DATA, emit_json, machine_info, models_dir, note
from vigil.config import VigilConfig
from vigil.config.crowd import CrowdConfig
from vigil.core.frame import BGRImage
from vigil.core.onnx_session import make_session
from vigil.crowd.counter import CountRule, count_frame
from vigil.crowd.dataset import head_points, list_images
from vigil.crowd.density import DensityEstimator, DensityMap
from vigil.crowd.evaluate import _read
from vigil.crowd.tiling import tiled
from vigil.models.csrnet import TUNED_TAIL
from vigil.models.install import PACKAGE_DIR
from vigil.models.manifest import MODELS
from vigil.workers.crowd_stage import build_tile_detector

SETS = ("shanghaitech_b_train", "mall_dev")


class Recording(DensityEstimator):
    """The product's estimator, keeping the first map of each frame (the full-width run)."""

    first: DensityMap | None = None

    def estimate(
        self, image: BGRImage, region: tuple[int, int, int, int] | None = None, input_width: int | None = None
    ) -> DensityMap:
        dmap = super().estimate(image, region, input_width)
        if self.first is None:
            self.first = dmap
        return dmap


def as_shipped(installed: Path, out: Path) -> None:
    """The installed graph with the tuned initializers replaced by the bundled arrays, unflushed."""
    (bundled,) = MODELS["csrnet-tail"].bundled
    proto = onnx.load(str(installed))
    with np.load(PACKAGE_DIR / bundled.path) as raw:
        arrays = {f"{name}_tuned": np.asarray(raw[key], np.float32) for key, (name, _) in TUNED_TAIL.items()}
    for init in proto.graph.initializer:
        if init.name in arrays:
            init.CopyFrom(numpy_helper.from_array(arrays[init.name], init.name))
    onnx.save(proto, str(out))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=int, default=10)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    models = models_dir()
    cfg = VigilConfig(models_dir=models, crowd=CrowdConfig(density_tail="tuned"))
    rule = CountRule.from_config(cfg.crowd)
    detector = tiled(build_tile_detector(cfg), cfg.crowd.count_tiles)
    installed = models / "csrnet-tail" / "model-int8.onnx"
    result: dict[str, object] = {"every": args.every, "threads": cfg.crowd.threads}
    with tempfile.TemporaryDirectory() as tmp:
        shipped = Path(tmp) / "as-shipped.onnx"
        as_shipped(installed, shipped)
        sessions = {
            "recipe1": make_session(shipped, cfg.crowd.threads),
            "recipe2": make_session(installed, cfg.crowd.threads),
        }
        for name in SETS:
            items = list_images(SHARED_DATA / "crowd" / name)[:: args.every]
            counts: dict[str, list[float]] = {k: [] for k in sessions}
            ms: dict[str, list[float]] = {k: [] for k in sessions}
            truth: list[float] = []
            identical, max_map = 0, 0.0
            for i, item in enumerate(items):
                image = _read(item.image)
                boxes = detector(image)
                maps: dict[str, DensityMap] = {}
                order = list(sessions) if i % 2 == 0 else list(reversed(sessions))
                for key in order:
                    est = Recording(sessions[key], cfg.crowd.density_input_width)
                    started = time.perf_counter()
                    counted = count_frame(image, lambda _img, b=boxes: b, est, rule)
                    ms[key].append((time.perf_counter() - started) * 1000.0)
                    counts[key].append(counted.count)
                    assert est.first is not None
                    maps[key] = est.first
                a, b = maps["recipe1"], maps["recipe2"]
                assert a.tuned is not None and b.tuned is not None
                same = np.array_equal(a.density, b.density) and np.array_equal(a.tuned, b.tuned)
                identical += int(same)
                max_map = max(max_map, float(np.abs(a.tuned - b.tuned).max()))
                truth.append(float(head_points(item.truth).shape[0]))
            diff = [abs(n - o) / max(o, 1.0) for n, o in zip(counts["recipe2"], counts["recipe1"], strict=True)]
            mae = {k: round(float(np.mean(np.abs(np.array(v) - np.array(truth)))), 3) for k, v in counts.items()}
            ratios = [n / o for n, o in zip(ms["recipe2"], ms["recipe1"], strict=True)]
            result[name] = {
                "images": len(items),
                "maps_bit_identical": identical,
                "max_tuned_map_diff": max_map,
                "count_rel_diff_mean": float(np.mean(diff)),
                "count_rel_diff_max": float(np.max(diff)),
                "mae": mae,
                "density_ms_median": {k: round(statistics.median(v), 1) for k, v in ms.items()},
                "density_ratio_median": round(statistics.median(ratios), 3),
            }
            note(f"{name}: {result[name]}")
    result["machine"] = machine_info()
    if args.json:
        emit_json(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
