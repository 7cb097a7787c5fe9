"""Where the two-tail CSRNet's time goes: ONNX Runtime's per-node profile of the stock int8 graph
(model csrnet), the installed two-tail graph (model csrnet-tail) and, with ``--as-shipped``, the
two-tail graph with the tuned layers exactly as shipped (recipe 1, tiny weights kept), on one
photo at the product's width (docs/crowd.md, seventh round).

Each graph is run ``--runs`` times after one warm-up run, with ``crowd.threads`` threads; per node
the mean time of a run, and the graph's node total. The nodes of the two back-end tails are printed
whatever their rank.

    nice -n 10 .venv/bin/python bench/crowd_tail_profile.py [--image PATH] [--runs 4] [--as-shipped] [--json]
"""

from __future__ import annotations

import argparse
import collections
import json
import tempfile
from pathlib import Path

import onnxruntime as ort

from benchlib import SHARED_DATA, emit_json, machine_info, models_dir, note
from crowd_tail_subnormal_check import as_shipped
from vigil.config import VigilConfig
from vigil.crowd.density import prepare
from vigil.crowd.evaluate import _read

TAIL_NODES = ("backend_8", "backend_10", "output_layer")


def profile(graph: Path, blob: object, threads: int, runs: int, prefix: str) -> dict[str, float]:
    """Mean ms per run of each node (kernel time), keyed ``name (op)``; the first run (warm-up) left out."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.enable_profiling = True
    options.profile_file_prefix = prefix
    session = ort.InferenceSession(str(graph), sess_options=options, providers=["CPUExecutionProvider"])
    for _ in range(runs + 1):
        session.run(None, {"image": blob})
    events = json.loads(Path(session.end_profiling()).read_text(encoding="utf-8"))
    per_run: dict[str, list[float]] = collections.defaultdict(list)
    for event in events:
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            key = f"{event['name'].removesuffix('_kernel_time')} ({event['args'].get('op_name')})"
            per_run[key].append(event["dur"] / 1000.0)
    return {key: sum(times[1:]) / runs for key, times in per_run.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--image", type=Path, default=SHARED_DATA / "crowd" / "shanghaitech_b_train" / "images" / "IMG_1.jpg"
    )
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--as-shipped", action="store_true", help="also the two-tail graph with the weights as shipped")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    models = models_dir()
    cfg = VigilConfig(models_dir=models)
    blob = prepare(_read(args.image), cfg.crowd.density_input_width)
    result: dict[str, object] = {"image": str(args.image), "input": list(blob.shape), "runs": args.runs}
    with tempfile.TemporaryDirectory() as tmp:
        graphs = {
            "stock": models / "csrnet" / "model-int8.onnx",
            "two-tail": models / "csrnet-tail" / "model-int8.onnx",
        }
        if args.as_shipped:
            graphs["two-tail as shipped"] = Path(tmp) / "as-shipped.onnx"
            as_shipped(graphs["two-tail"], graphs["two-tail as shipped"])
        for name, graph in graphs.items():
            nodes = profile(graph, blob, cfg.crowd.threads, args.runs, str(Path(tmp) / "profile"))
            tails = {k: round(v, 1) for k, v in nodes.items() if k.startswith(TAIL_NODES)}
            result[name] = {"node_total_ms": round(sum(nodes.values()), 1), "tail_nodes_ms": tails}
            note(f"{name}: node total {sum(nodes.values()):.1f} ms; tails {tails}")
    result["machine"] = machine_info()
    if args.json:
        emit_json(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
