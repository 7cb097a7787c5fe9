"""Cost of write-time face redaction per stored image, against the detector in the same process.

Usage: python bench/redaction_cost.py DIR_OF_JPEGS [--frames VIDEO]

Reports the median and 95th percentile milliseconds to redact each image (YuNet at every
search scale, two passes where the first found something), the same for one YOLO detection on
a 768x432 frame in the same process (the ratio is what carries across machines), the CPU model,
the load average (the machine is shared) and the peak memory.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from vigil.config import VigilConfig
from vigil.governance.redactor import build_redactor
from vigil.workers.wiring import build_detector


def _cpu() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        return next(
            (line.split(":", 1)[1].strip() for line in out.splitlines() if "Model name" in line), platform.processor()
        )
    except OSError:
        return platform.processor()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("images", type=Path)
    parser.add_argument("--models", type=Path, default=Path(os.environ.get("VIGIL_MODELS_DIR", "vigil-data/models")))
    args = parser.parse_args()
    cfg = VigilConfig(models_dir=args.models)
    redactor = build_redactor(cfg)
    detector = build_detector(cfg)
    images = [cv2.imread(str(p)) for p in sorted(args.images.rglob("*.jpg"))]
    images = [i for i in images if i is not None]
    if not images:
        sys.exit(f"no JPEG under {args.images}")
    frame = cv2.resize(images[0], (768, 432))
    detector.detect(frame)
    redact_ms, det_ms = [], []
    for image in images:
        started = time.perf_counter()
        redactor.redact(image)
        redact_ms.append((time.perf_counter() - started) * 1e3)
        started = time.perf_counter()
        detector.detect(frame)
        det_ms.append((time.perf_counter() - started) * 1e3)
    q = statistics.quantiles(redact_ms, n=20)
    print(f"images: {len(images)} (median {int(np.median([i.shape[0] for i in images]))} px tall)")
    print(f"redaction per image: median {statistics.median(redact_ms):.1f} ms, p95 {q[-1]:.1f} ms")
    print(f"YOLO detection per 768x432 frame, same process: median {statistics.median(det_ms):.1f} ms")
    print(f"ratio redaction/detection (median): {statistics.median(redact_ms) / statistics.median(det_ms):.2f}")
    print(f"CPU: {_cpu()}; load average {os.getloadavg()[0]:.1f} (shared machine)")
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
