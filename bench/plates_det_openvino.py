"""The PP-OCRv6 text detector under each runtime Vigil can give it (``plates.text_detector_runtime``),
compared through the whole default reader in one process: ONNX Runtime fp32 (the session Vigil
opens), and the same graph compiled by OpenVINO (:class:`vigil.core.openvino_session.OpenVinoSession`,
the optional extra ``vigil[openvino]``) at f32 and at bf16. Each US scene is read by every way in
turn, interleaved, each after one warm read (OpenVINO compiles each new input shape on first use);
the scene text pass and the closer reads' line detection both use the detector. Prints exact and
found per half (even / odd scenes), ms per scene mean / median / p95 and the ratio to ONNX Runtime,
the scenes whose read differs between ways, what ``auto`` would choose here, the CPU (lscpu), load
and peak RSS. bf16 is native only with AMX (and AVX512_BF16); elsewhere OpenVINO emulates it: the
reads are still bf16's, the times are not AMX's.

    OMP_NUM_THREADS=2 .venv/bin/python bench/plates_det_openvino.py [N] [--ways ort,f32,bf16] [--json FILE]

``--alone RUNTIME`` (a ``plates.text_detector_runtime`` value) instead reads the first N scenes once
each with the product's reader built for that setting alone, and prints its peak RSS and the mean
time of those first reads (OpenVINO's compile of each new input shape included): run once per
runtime, each in its own process.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchlib import SHARED_DATA, models_dir
from vigil.config.plates import PlatesConfig
from vigil.core.openvino_session import OpenVinoSession, choose_runtime
from vigil.plates.eval import FOUND_IOU, load_labels, read_image
from vigil.plates.localise import box_iou
from vigil.plates.ocr import RapidTextEngine
from vigil.workers.plates_stage import build_plate_reader

NAMES = {"ort": "ONNX Runtime fp32", "f32": "OpenVINO f32", "bf16": "OpenVINO bf16"}


def lscpu_model() -> str:
    out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    return next((ln.split(":", 1)[1].strip() for ln in out.splitlines() if ln.startswith("Model name")), "?")


def main() -> None:
    argv = sys.argv[1:]
    opts = {argv[i]: argv[i + 1] for i in range(len(argv) - 1) if argv[i].startswith("--")}
    args = [a for i, a in enumerate(argv) if not a.startswith("--") and (i == 0 or not argv[i - 1].startswith("--"))]
    limit = int(args[0]) if args else 222
    if "--alone" in opts:
        alone(opts["--alone"], limit)
        return
    wanted = opts.get("--ways", "ort,f32,bf16").split(",")
    cfg = PlatesConfig(text_detector_runtime="onnxruntime")
    reader = build_plate_reader(cfg, models_dir())
    engine = reader._ocr
    assert isinstance(engine, RapidTextEngine)
    det = engine._engine._load_det_model()
    ort_session = det.session
    path = Path(ort_session.session._model_path)
    sessions: dict[str, Any] = {"ort": ort_session}
    for prec in ("f32", "bf16"):
        if prec in wanted:
            sessions[prec] = OpenVinoSession(path, cfg.threads, prec)  # type: ignore[arg-type]
    ways = [w for w in wanted if w in sessions]
    _, scenes = load_labels(SHARED_DATA / "plates" / "us")
    scenes = scenes[:limit]
    times: dict[str, list[float]] = {w: [] for w in ways}
    texts: dict[str, list[str]] = {w: [] for w in ways}
    exact = {w: np.zeros(len(scenes), bool) for w in ways}
    found = {w: np.zeros(len(scenes), bool) for w in ways}
    load0 = os.getloadavg()[0]
    for k, item in enumerate(scenes):
        image = read_image(item.image)
        assert item.box is not None
        for way in ways:
            det.session = sessions[way]
            reader.read_scene(image)  # warm
            time.sleep(0.05)
            t0 = time.perf_counter()
            reads = reader.read_scene(image)
            times[way].append(1000 * (time.perf_counter() - t0))
            read = reads[0] if reads else None
            texts[way].append("" if read is None else read.text)
            exact[way][k] = read is not None and read.text == item.plate
            found[way][k] = read is not None and box_iou(read.box, item.box) > FOUND_IOU
    det.session = ort_session
    load1 = os.getloadavg()[0]
    half = np.arange(len(scenes)) % 2
    base = np.mean(times[ways[0]])
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    choice = choose_runtime("auto")
    print(f"{lscpu_model()}; load average {load0:.1f} -> {load1:.1f}; {len(scenes)} US scenes; peak RSS {rss:.0f} MiB")
    print(f"auto here: {choice.runtime} {choice.precision} ({choice.why})")
    rows = {}
    for way in ways:
        a, e, f = np.array(times[way]), exact[way], found[way]
        rows[way] = {
            "mean": a.mean(),
            "median": float(np.median(a)),
            "p95": float(np.percentile(a, 95)),
            "ratio": a.mean() / base,
            "exact": int(e.sum()),
            "found": int(f.sum()),
        }
        print(
            f"  {NAMES[way]:18s} mean {a.mean():6.1f} median {np.median(a):6.1f} p95 {np.percentile(a, 95):6.1f} ms"
            f"  ratio {a.mean() / base:.3f}  exact {e.sum()} ({e[half == 0].sum()} + {e[half == 1].sum()})"
            f"  found {f.sum()} ({f[half == 0].sum()} + {f[half == 1].sum()})"
        )
    for k, item in enumerate(scenes):
        if len({texts[w][k] for w in ways}) > 1 or len({bool(found[w][k]) for w in ways}) > 1:
            got = ", ".join(f"{w} {texts[w][k] or '-'}{'' if found[w][k] else ' (not found)'}" for w in ways)
            print(f"  differs: {Path(item.image).name} label {item.plate}: {got}")
    if "--json" in opts:
        Path(opts["--json"]).write_text(
            json.dumps({"scenes": [Path(s.image).name for s in scenes], "texts": texts, "times": times, "rows": rows})
        )


def alone(runtime: str, limit: int) -> None:
    reader = build_plate_reader(PlatesConfig(text_detector_runtime=runtime), models_dir())  # type: ignore[arg-type]
    _, scenes = load_labels(SHARED_DATA / "plates" / "us")
    load0, times = os.getloadavg()[0], []
    for item in scenes[:limit]:
        image = read_image(item.image)
        t0 = time.perf_counter()
        reader.read_scene(image)
        times.append(1000 * (time.perf_counter() - t0))
    choice = choose_runtime(runtime)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{lscpu_model()}; load average {load0:.1f} -> {os.getloadavg()[0]:.1f}; {runtime}: {choice.runtime} "
        f"{choice.precision}; {len(times)} US scenes, first reads mean {np.mean(times):.1f} ms; peak RSS {rss:.0f} MiB"
    )


if __name__ == "__main__":
    main()
