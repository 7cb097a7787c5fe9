"""Would batching several cameras' frames into one YOLOX-Nano call be faster on this CPU?

The installed graph takes exactly ``[1, 3, 416, 416]``. Its only batch-bound constants are the
three head ``Reshape`` targets ``[1, 85, -1]`` (its ``Resize`` ops use scales, its ``Slice``
ops cut H and W), so a copy with a free batch is made here in a temporary folder: input and
output batch named ``N``, the Reshape targets ``[0, 85, -1]`` (0: keep the input's batch), the
stored intermediate shapes dropped. The copy is checked against the original (same rows for
every image of a batch), then ``session.run`` is timed per frame for batches of 1, 2 and 4
real ``vtest.avi`` frames (letterboxed), with 1 and 2 ONNX Runtime threads, the batch sizes
taking turns so the machine's load hits them alike.

Run: ``nice -n 10 .venv/bin/python bench/detector_batching.py [--rounds 20] [--json]``
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import onnx
from onnx import numpy_helper
from rich.table import Table

from benchlib import SHARED_DATA, emit_json, load_average, machine_info, models_dir, note, out_console
from vigil.core.onnx_session import make_session
from vigil.detect.yolox import letterbox
from vigil.models.install import require

CLIP = SHARED_DATA / "video" / "opencv" / "vtest.avi"
BATCHES = (1, 2, 4)


def free_batch(src: Path, dst: Path) -> None:
    """Write ``src`` with a free batch dimension to ``dst`` (see the module docstring)."""
    model = onnx.load(str(src))
    graph = model.graph
    for value in (*graph.input, *graph.output):
        value.type.tensor_type.shape.dim[0].dim_param = "N"
    consts = {i.name: i for i in graph.initializer}
    changed = 0
    for node in graph.node:
        if node.op_type != "Reshape":
            continue
        target = node.input[1]
        for c in graph.node:
            if c.op_type == "Constant" and c.output[0] == target:
                shape = numpy_helper.to_array(c.attribute[0].t).copy()
                if shape[0] == 1:
                    shape[0] = 0
                    c.attribute[0].t.CopyFrom(numpy_helper.from_array(shape, c.attribute[0].t.name))
                    changed += 1
        if target in consts:
            shape = numpy_helper.to_array(consts[target]).copy()
            if shape[0] == 1:
                shape[0] = 0
                consts[target].CopyFrom(numpy_helper.from_array(shape, target))
                changed += 1
    if changed == 0:
        raise SystemExit(f"{src.name}: no batch-1 Reshape target found; not the graph this script knows")
    del graph.value_info[:]
    onnx.save(model, str(dst))


def frames(n: int) -> list[Any]:
    cap = cv2.VideoCapture(str(CLIP))
    out: list[Any] = []
    while len(out) < n:
        ok, frame = cap.read()
        if not ok:
            break
        out.append(letterbox(np.asarray(frame, dtype=np.uint8), 416)[0])
    cap.release()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    src = require(models_dir(), "yolox-nano") / "yolox_nano.onnx"
    blobs = frames(max(BATCHES))
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="vigil-batch-") as tmp:
        dyn = Path(tmp) / "yolox_nano_batch.onnx"
        free_batch(src, dyn)
        for threads in (1, 2):
            one = make_session(src, threads)
            many = make_session(dyn, threads)
            name_one, name_many = one.get_inputs()[0].name, many.get_inputs()[0].name
            batch = np.concatenate(blobs)
            (ref,) = many.run(None, {name_many: batch})
            worst = max(float(np.abs(one.run(None, {name_one: b})[0][0] - ref[i]).max()) for i, b in enumerate(blobs))
            note(f"{threads} thread(s): batch-{len(blobs)} rows vs one at a time, max |diff| {worst:.2e}")
            times: dict[int, list[float]] = {b: [] for b in BATCHES}
            for _ in range(args.rounds):
                for b in BATCHES:
                    feed = np.concatenate(blobs[:b])
                    started = time.perf_counter()
                    if b == 1:
                        one.run(None, {name_one: feed})
                    else:
                        many.run(None, {name_many: feed})
                    times[b].append((time.perf_counter() - started) * 1000 / b)
            results[str(threads)] = {str(b): round(statistics.median(t), 2) for b, t in times.items()}
            results[str(threads)]["max_abs_diff"] = worst
    table = Table(title=f"YOLOX-Nano session.run, ms per frame (median of {args.rounds}), load {load_average()[0]:.1f}")
    table.add_column("threads", justify="right")
    for b in BATCHES:
        table.add_column(f"batch {b}", justify="right")
    for n_threads, row in results.items():
        table.add_row(n_threads, *(f"{row[str(b)]:.1f} ({row['1'] / row[str(b)]:.2f}x)" for b in BATCHES))
    out_console.print(table)
    if args.json:
        emit_json({"machine": machine_info(), "ms_per_frame": results})


if __name__ == "__main__":
    main()
