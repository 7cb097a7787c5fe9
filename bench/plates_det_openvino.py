"""The PP-OCRv6 text detector run by OpenVINO instead of ONNX Runtime: a data point for the scene
time, not a product path (OpenVINO is not a Vigil dependency: ``pip install openvino`` into the
venv to run this). The default reader reads each US scene twice, interleaved in one process: with
the detector's session as Vigil opens it (ONNX Runtime, fp32) and with the same graph compiled by
OpenVINO (``--precision f32`` or ``bf16``: bfloat16 arithmetic where the CPU has it, e.g.
AVX512_BF16), both on the same threads; the scene text pass and the closer reads' line detection
both use it. Prints exact and found per half and the time ratio.

    OMP_NUM_THREADS=2 .venv/bin/python bench/plates_det_openvino.py [N] [--precision bf16]
"""

from __future__ import annotations

import os
import platform
import resource
import sys
import time
from typing import Any

import numpy as np

from benchlib import SHARED_DATA, models_dir
from vigil.config.plates import PlatesConfig
from vigil.plates.eval import FOUND_IOU, load_labels, read_image
from vigil.plates.localise import box_iou
from vigil.plates.ocr import RapidTextEngine
from vigil.workers.plates_stage import build_plate_reader


class OpenVinoDetector:
    """Stands in for rapidocr's detector session: the first output for one input."""

    def __init__(self, path: str, threads: int, precision: str) -> None:
        import openvino as ov  # not a Vigil dependency

        core = ov.Core()
        config = {
            "INFERENCE_NUM_THREADS": threads,
            "PERFORMANCE_HINT": "LATENCY",
            "INFERENCE_PRECISION_HINT": precision,
        }
        self._model = core.compile_model(core.read_model(path), "CPU", config)

    def __call__(self, x: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        return np.asarray(self._model(x)[0])


def main() -> None:
    precision = sys.argv[sys.argv.index("--precision") + 1] if "--precision" in sys.argv else "bf16"
    args = [a for a in sys.argv[1:] if not a.startswith("--") and a != precision]
    limit = int(args[0]) if args else 222
    cfg = PlatesConfig()
    reader = build_plate_reader(cfg, models_dir())
    engine = reader._ocr
    assert isinstance(engine, RapidTextEngine)
    det = engine._engine._load_det_model()
    ort_session = det.session
    path = ort_session.session._model_path
    ways = {
        "ONNX Runtime fp32 (now)": ort_session,
        f"OpenVINO {precision}": OpenVinoDetector(path, cfg.threads, precision),
    }
    _, scenes = load_labels(SHARED_DATA / "plates" / "us")
    scenes = scenes[:limit]
    times: dict[str, list[float]] = {w: [] for w in ways}
    exact = {w: np.zeros(len(scenes), bool) for w in ways}
    found = {w: np.zeros(len(scenes), bool) for w in ways}
    load0 = os.getloadavg()[0]
    for k, item in enumerate(scenes):
        image = read_image(item.image)
        assert item.box is not None
        for way, session in ways.items():
            det.session = session
            reader.read_scene(image)  # warm: OpenVINO compiles each new input shape on first use
            time.sleep(0.05)
            t0 = time.perf_counter()
            reads = reader.read_scene(image)
            times[way].append(1000 * (time.perf_counter() - t0))
            read = reads[0] if reads else None
            exact[way][k] = read is not None and read.text == item.plate
            found[way][k] = read is not None and box_iou(read.box, item.box) > FOUND_IOU
    half = np.arange(len(scenes)) % 2
    first = next(iter(ways))
    print(f"{platform.machine()}; load average {load0:.1f} -> {os.getloadavg()[0]:.1f}; {len(scenes)} US scenes")
    for way in ways:
        a, e, f = np.array(times[way]), exact[way], found[way]
        ratio = a.mean() / np.mean(times[first])
        print(
            f"  {way:24s} mean {a.mean():6.1f} median {np.median(a):6.1f} ms ratio {ratio:.3f}"
            f"  exact {e.sum()} ({e[half == 0].sum()} + {e[half == 1].sum()})"
            f"  found {f.sum()} ({f[half == 0].sum()} + {f[half == 1].sum()})"
        )
    print(f"  peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
