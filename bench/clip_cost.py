"""Cost of one event clip: redacting its frames and encoding them, against the detector.

Usage: python bench/clip_cost.py [VIDEO] [--seconds 10] [--fps 5]

Takes ``seconds`` of ``VIDEO`` (default: the bundled people clip) at ``fps`` (a camera's
``analysis_fps``), as the ring buffer would hold them, and stores them as a clip through the
media store of a temporary data directory: every face blurred by the clip redactor (YuNet at
x1 and x2, tracked heads, a second search where the first found something) and H.264 encoded.
Reports milliseconds per frame for redaction and for encoding, the clip's size, and one YOLO
detection on the same frame in the same process (the ratio is what carries across machines).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import av

from vigil.config import VigilConfig
from vigil.governance.clip_redactor import build_clip_redactor
from vigil.store.media import ClipFrame, MediaStore
from vigil.store.video import encode_mp4
from vigil.workers.wiring import build_detector

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("video", type=Path, nargs="?", default=REPO / "samples" / "people.mp4")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--fps", type=float, default=5.0)
    parser.add_argument("--models", type=Path, default=Path(os.environ.get("VIGIL_MODELS_DIR", "vigil-data/models")))
    args = parser.parse_args()
    cfg = VigilConfig(models_dir=args.models)
    frames, pts = [], []
    with av.open(str(args.video)) as src:
        next_t = 0.0
        for f in src.decode(video=0):
            t = float(f.time or 0.0)
            if t + 1e-6 < next_t:
                continue
            frames.append(f.to_ndarray(format="bgr24"))
            pts.append(t)
            next_t += 1.0 / args.fps
            if t >= args.seconds:
                break
    redactor = build_clip_redactor(cfg)
    detector = build_detector(cfg)
    detector.detect(frames[0])
    redactor(frames[0], (), ())
    red_ms = []
    for image in frames:
        started = time.perf_counter()
        redactor(image, (), ())
        red_ms.append((time.perf_counter() - started) * 1e3)
    det_ms = []
    for image in frames[:10]:
        started = time.perf_counter()
        detector.detect(image)
        det_ms.append((time.perf_counter() - started) * 1e3)
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        clip = encode_mp4(frames, pts, workdir=Path(tmp))
        enc_s = time.perf_counter() - started
        store = MediaStore(Path(tmp) / "media", clip_redactor=redactor)
        started = time.perf_counter()
        stored = store.save_clip("clips/bench/x.mp4", [ClipFrame(i, t) for i, t in zip(frames, pts, strict=True)])
        total_s = time.perf_counter() - started
    h, w = frames[0].shape[:2]
    print(f"clip: {len(frames)} frames of {w}x{h} at {args.fps:g} frames/s ({args.video.name})")
    print(f"redaction per frame: median {statistics.median(red_ms):.0f} ms, max {max(red_ms):.0f} ms")
    print(f"H.264 encoding: {enc_s * 1e3 / len(frames):.1f} ms per frame; clip {len(clip.data) / 1024:.0f} KiB")
    print(f"save_clip (redact + encode + write): {total_s:.1f} s for {stored.duration_s:.1f} s of video")
    print(f"YOLO detection per frame, same process: median {statistics.median(det_ms):.0f} ms")
    print(f"ratio redaction/detection: {statistics.median(red_ms) / statistics.median(det_ms):.2f}")
    print(f"load average {os.getloadavg()[0]:.1f} (shared machine)")


if __name__ == "__main__":
    main()
