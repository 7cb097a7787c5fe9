"""Cost of write-time face redaction per stored image, against the detector in the same process.

Usage: python bench/redaction_cost.py DIR_OF_JPEGS [--frames VIDEO]
       python bench/redaction_cost.py DIR_OF_JPEGS --plates   # what blurring plates adds

Reports the median and 95th percentile milliseconds to redact each image (YuNet at every
search scale, two passes where the first found something), the same for one YOLO detection on
a 768x432 frame in the same process (the ratio is what carries across machines), the CPU model,
the load average (the machine is shared) and the peak memory.

With ``--plates``: the milliseconds the plate policy (``governance.redaction.plates``, on by
default) adds per 768x432 frame to each profile of the one redactor: the stored-image profile,
the clip profile and the live profile at a 16-camera grid tile's width (384 px), each timed
with the policy on and off on the same frames, against one YOLO detection.
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
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from vigil.config import VigilConfig
from vigil.core.detections import Detections
from vigil.governance.clip_redactor import build_clip_redactor
from vigil.governance.redactor import build_redactor
from vigil.services.live import live_redactor, shrink
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
    parser.add_argument("--plates", action="store_true", help="time what the plate policy adds to each profile")
    args = parser.parse_args()
    cfg = VigilConfig(models_dir=args.models)
    if args.plates:
        plates_cost(cfg, args.images)
        return
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


def _median_ms(run: object, frames: list[np.ndarray]) -> float:
    times = []
    for frame in frames:
        started = time.perf_counter()
        run(frame)  # type: ignore[operator]
        times.append((time.perf_counter() - started) * 1e3)
    return statistics.median(times)


def plates_cost(cfg: VigilConfig, folder: Path) -> None:
    off = cfg.model_copy(update={"governance": cfg.governance.model_copy(update={
        "redaction": cfg.governance.redaction.model_copy(update={"plates": False})})})  # fmt: skip
    frames = [cv2.resize(i, (768, 432), interpolation=cv2.INTER_AREA) for p in sorted(folder.rglob("*.jpg"))
              if (i := cv2.imread(str(p))) is not None][:40]  # fmt: skip
    if not frames:
        sys.exit(f"no JPEG under {folder}")
    detector = build_detector(cfg)
    detector.detect(frames[0])
    det = _median_ms(detector.detect, frames)
    nobody = Detections()
    tiles = [shrink(f, nobody, 384)[0] for f in frames]
    print(f"frames: {len(frames)} at 768x432 from {folder}; YOLO detection median {det:.1f} ms")

    def clip_profile(c: VigilConfig) -> Callable[[np.ndarray], object]:
        redactor = build_clip_redactor(c)
        return lambda f: redactor(f, (), ())

    def live_profile(c: VigilConfig) -> Callable[[np.ndarray], object]:
        redactor = live_redactor(c)
        return lambda f: redactor(f, nobody, "cam")

    profiles: list[tuple[str, Callable[[VigilConfig], object], list[np.ndarray]]] = [
        ("stored image", build_redactor, frames),
        ("clip frame", clip_profile, frames),
        ("live tile 384 px", live_profile, tiles),
    ]
    for name, make, inputs in profiles:
        with_plates, without = _median_ms(make(cfg), inputs), _median_ms(make(off), inputs)
        added = with_plates - without
        print(f"{name:17} faces only {without:7.1f} ms, with plates {with_plates:7.1f} ms: +{added:.1f} ms per frame "
              f"({added / det:.2f}x one detection)")  # fmt: skip
    print(f"CPU: {_cpu()}; load average {os.getloadavg()[0]:.1f} (shared machine)")


if __name__ == "__main__":
    main()
