"""What a fine-tuned CSRNet tail would cost the counting step (issue 22): today's step and the
candidate, in one process, per 1024x768 frame, with peak memory.

* today: :func:`vigil.crowd.counter.count_frame` with the installed int8 CSRNet (recipe 3);
* candidate: the same graph with a second output, the fine-tuned tail (``backend_10`` + output
  layer, run on the stock ``backend_8`` activation: ``freeze: 2`` in scripts/train_crowd_density.py)
  kept fp32 like the stock tail, quantised by the same recipe; the near-people gate reads the stock
  output, the count the tuned one, the near path (384 px) the stock output.

The tail file is a ``cv`` fold's or ``final``'s weights (any tail has the cost of any other). Both
steps run on each image back to back in alternating order (interleaved, so load from other jobs
hits both alike), ``crowd.threads`` threads, the default tiled int8 detector. Peak RSS: a fresh
child process per step that loads its models and counts one photo (VmHWM).

    nice -n 10 .venv/bin/python bench/crowd_tail_speed.py --tail build/crowd-train/w1024/cv-TAG/fold0.npz [--json]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

from benchlib import SHARED_DATA, emit_json, machine_info, models_dir, note
from vigil.config import VigilConfig
from vigil.core.onnx_session import make_session
from vigil.crowd.counter import CountRule, count_frame, count_from_map
from vigil.crowd.dataset import list_images
from vigil.crowd.density import DensityMap, prepare
from vigil.crowd.evaluate import _read
from vigil.crowd.tiling import tiled
from vigil.models.quantize import CSRNET_FP32_NODES, calibration_images, quantize_int8, read_image
from vigil.workers.crowd_stage import build_density, build_tile_detector

TUNED_NODES = ("backend_10_tuned_conv", "output_layer_tuned_conv")


def two_tail_graph(stock: Path, tail: Path, out: Path) -> None:
    """The stock fp32 graph plus the tuned tail on ``backend_8_relu`` as output ``density_tuned``,
    then its int8 copy (recipe 3: the tails stay fp32) at ``out``."""
    proto = onnx.load(str(stock))
    with np.load(tail) as z:
        w = {k: np.asarray(z[k], np.float32) for k in z.files}
    g = proto.graph
    g.initializer.extend(numpy_helper.from_array(w[k], f"{k}_tuned") for k in w if not k.startswith("backend_8"))
    g.node.extend(
        [
            helper.make_node(
                "Conv",
                ["backend_8_relu", "backend_10_w_tuned", "backend_10_b_tuned"],
                ["backend_10_tuned"],
                name=TUNED_NODES[0],
                kernel_shape=[3, 3],
                pads=[2] * 4,
                dilations=[2, 2],
            ),
            helper.make_node("Relu", ["backend_10_tuned"], ["backend_10_tuned_relu"], name="backend_10_tuned_relu"),
            helper.make_node(
                "Conv",
                ["backend_10_tuned_relu", "output_layer_w_tuned", "output_layer_b_tuned"],
                ["density_tuned"],
                name=TUNED_NODES[1],
                kernel_shape=[1, 1],
            ),
        ]
    )
    g.output.append(helper.make_tensor_value_info("density_tuned", onnx.TensorProto.FLOAT, None))
    fp32 = out.with_name("two-tail.onnx")
    onnx.save(proto, str(fp32))
    from vigil.models.csrnet import input_blob

    blobs = [input_blob(read_image(p), 384) for p in calibration_images()]  # the stock recipe's width
    quantize_int8(fp32, out, blobs, keep_fp32=(*CSRNET_FP32_NODES, *TUNED_NODES))


class TwoTail:
    """The candidate step: one run of the two-output graph, gate on the stock map, count on the tuned one."""

    def __init__(self, path: Path, threads: int, input_width: int) -> None:
        self.session = make_session(path, threads)
        self.input_width = input_width

    def maps(self, image: np.ndarray, width: int) -> tuple[DensityMap, DensityMap]:
        h, w = image.shape[:2]
        stock, tuned = self.session.run(["density", "density_tuned"], {"image": prepare(image, width)})
        return DensityMap(stock[0, 0], w, h, 0.0), DensityMap(tuned[0, 0], w, h, 0.0)

    def count(self, image: np.ndarray, detector: object, rule: CountRule) -> float:
        h, w = image.shape[:2]
        boxes = np.asarray(detector(image), np.float32).reshape(-1, 4)  # type: ignore[operator]
        near = rule.people_are_near(boxes, h)
        if not near:
            width = min(w, self.input_width)
            stock, tuned = self.maps(image, width)
            gate = count_from_map(stock, boxes, rule, input_width=width)
            near = rule.density_disagrees(gate.density, gate.combined)
            if not near:
                return count_from_map(tuned, boxes, rule, input_width=width).count
        width = min(w, rule.near_width)
        stock, _ = self.maps(image, width)
        return count_from_map(stock, boxes, rule, near=True, input_width=width).count


_RSS_CHILD = """
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[4])
from benchlib import models_dir
from crowd_tail_speed import TwoTail
from vigil.config import VigilConfig
from vigil.crowd.counter import CountRule, count_frame
from vigil.crowd.evaluate import _read
from vigil.crowd.tiling import tiled
from vigil.workers.crowd_stage import build_density, build_tile_detector
step, graph, image = sys.argv[1], Path(sys.argv[2]), _read(Path(sys.argv[3]))
cfg = VigilConfig(models_dir=models_dir())
det = tiled(build_tile_detector(cfg), cfg.crowd.count_tiles)
rule = CountRule.from_config(cfg.crowd)
if step == "today":
    print(step, count_frame(image, det, build_density(cfg, required=True), rule).count)
else:
    print(step, TwoTail(graph, cfg.crowd.threads, cfg.crowd.density_input_width).count(image, det, rule))
status = Path("/proc/self/status").read_text().splitlines()
print(next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")))
"""


def peak_rss_mib(step: str, graph: Path, image: Path) -> float:
    done = subprocess.run(
        [sys.executable, "-c", _RSS_CHILD, step, str(graph), str(image), str(Path(__file__).parent)],
        capture_output=True,
        text=True,
        check=True,
    )
    lines = done.stdout.strip().splitlines()
    note(f"peak RSS child: {lines[-2]}")  # the step's count, to show each child ran its own step
    return int(lines[-1]) / 1024.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tail", type=Path, required=True, help="a tail weights .npz (cv fold or final)")
    parser.add_argument("--data", nargs="+", type=Path, default=[SHARED_DATA / "crowd" / "shanghaitech_b_train"])
    parser.add_argument("--images", type=int, default=20, help="spread evenly over each --data set")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    cfg = VigilConfig(models_dir=models_dir())
    detector = tiled(build_tile_detector(cfg), cfg.crowd.count_tiles)
    density = build_density(cfg, required=True)
    assert density is not None
    rule = CountRule.from_config(cfg.crowd)
    with tempfile.TemporaryDirectory() as tmp:
        graph = Path(tmp) / "two-tail-int8.onnx"
        two_tail_graph(models_dir() / "csrnet" / "model.onnx", args.tail, graph)
        candidate = TwoTail(graph, cfg.crowd.threads, cfg.crowd.density_input_width)
        items = []
        for data in args.data:
            every = list_images(data)
            items += every[:: max(1, len(every) // args.images)][: args.images]
        today_ms: list[float] = []
        cand_ms: list[float] = []
        for i, item in enumerate(items):
            image = _read(item.image)
            steps = (
                ("today", lambda img=image: count_frame(img, detector, density, rule)),
                ("candidate", lambda img=image: candidate.count(img, detector, rule)),
            )
            for name, step in steps if i % 2 == 0 else steps[::-1]:
                started = time.perf_counter()
                step()
                (today_ms if name == "today" else cand_ms).append((time.perf_counter() - started) * 1000.0)
        ratios = [c / t for c, t in zip(cand_ms, today_ms, strict=True)]
        rss = {step: peak_rss_mib(step, graph, items[0].image) for step in ("today", "candidate")}
    result = {
        "data": [str(d) for d in args.data],
        "images": len(items),
        "threads": cfg.crowd.threads,
        "today_ms_median": round(statistics.median(today_ms), 1),
        "candidate_ms_median": round(statistics.median(cand_ms), 1),
        "ratio_median": round(statistics.median(ratios), 3),
        "ratio_of_sums": round(sum(cand_ms) / sum(today_ms), 3),
        "peak_rss_mib": {k: round(v, 1) for k, v in rss.items()},
        "machine": machine_info(),
    }
    note(
        f"{len(items)} images: today {result['today_ms_median']} ms, candidate {result['candidate_ms_median']} ms "
        f"(median ratio {result['ratio_median']}x, sums {result['ratio_of_sums']}x); peak RSS {result['peak_rss_mib']}"
    )
    if args.json:
        emit_json(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
