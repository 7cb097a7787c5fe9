"""Where an analysed frame's time goes: the pipeline's stages run on one thread, timed and profiled.

Runs the same stages a camera thread and its worker run (decode to BGR, sample, motion
gate, detect, track, lifecycle), but in sequence on the main thread so that each is timed
on its own and cProfile sees all of them. Prints milliseconds per stage (per decoded frame
and per analysed frame) and the top functions by cumulative time.

Run: ``.venv/bin/python bench/profile_pipeline.py [--threads 1] [--json]`` from the repo root.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import av
import cv2
from rich.table import Table

from benchlib import (
    SAMPLES,
    allowed_cpus,
    bench_config,
    emit_json,
    load_average,
    machine_info,
    note,
    out_console,
    pinned_to,
    quiet_logs,
)
from vigil.camera.motion import MotionGate
from vigil.camera.sampler import FrameSampler
from vigil.camera.source import open_source
from vigil.workers.pipeline import CameraPipeline
from vigil.workers.wiring import build_detector, detector_class_ids


def decode_only_s(video: Path) -> tuple[float, int]:
    """Seconds to decode every frame without converting it to a BGR array."""
    t0 = time.perf_counter()
    with av.open(str(video)) as container:
        n = sum(1 for _ in container.decode(video=0))
    return time.perf_counter() - t0, n


def staged_run(video: Path, threads: int, analysis_fps: float, gate_on: bool) -> dict[str, Any]:
    """Run the stages in sequence and time each."""
    stage_s: dict[str, float] = defaultdict(float)
    with tempfile.TemporaryDirectory(prefix="vigil-prof-") as tmp:
        cfg = bench_config(Path(tmp), threads=threads)
        detector = build_detector(cfg)
        pipeline = CameraPipeline("prof", detector, cfg.tracker, analysis_fps, detector_class_ids(cfg), None)
        sampler = FrameSampler(analysis_fps)
        gate = MotionGate(min_changed_fraction=0.003, keepalive_s=2.0) if gate_on else None
        decoded = analysed = 0
        with open_source(str(video), "prof") as source:
            frames = iter(source)
            while True:
                t0 = time.perf_counter()
                frame = next(frames, None)
                stage_s["decode+to_bgr"] += time.perf_counter() - t0
                if frame is None:
                    break
                decoded += 1
                if not sampler.accept(frame.pts_s):
                    continue
                if gate is not None:
                    t0 = time.perf_counter()
                    passed = gate.should_analyse(frame.image, frame.pts_s)
                    stage_s["motion_gate"] += time.perf_counter() - t0
                    if not passed:
                        continue
                t0 = time.perf_counter()
                dets = detector.detect(frame.image)
                stage_s["detect"] += time.perf_counter() - t0
                t0 = time.perf_counter()
                # process() detects again; time tracking+lifecycle through the pipeline's parts.
                tracked = pipeline._tracker.update(dets, frame.pts_s)
                stage_s["track (ByteTrack x classes)"] += time.perf_counter() - t0
                t0 = time.perf_counter()
                changes = pipeline._lifecycle.observe(frame, tracked)
                _ = [pipeline._to_event(c) for c in changes]
                stage_s["lifecycle+events"] += time.perf_counter() - t0
                analysed += 1
    return {"decoded": decoded, "analysed": analysed, "stage_s": dict(stage_s)}


def profile_pipeline(video: Path, threads: int, analysis_fps: float, top: int) -> str:
    """cProfile of the whole staged run; the top ``top`` functions by cumulative time."""
    profiler = cProfile.Profile()
    profiler.enable()
    staged_run(video, threads, analysis_fps, gate_on=True)
    profiler.disable()
    buf = io.StringIO()
    pstats.Stats(profiler, stream=buf).sort_stats("cumulative").print_stats(top)
    return buf.getvalue()


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clip", type=Path, default=SAMPLES / "people.mp4")
    p.add_argument("--threads", type=int, default=1, help="ORT/OpenCV threads, and CPUs pinned to")
    p.add_argument("--analysis-fps", type=float, default=5.0)
    p.add_argument("--top", type=int, default=25, help="functions shown from cProfile (0: no cProfile)")
    p.add_argument("--json", action="store_true", help="print a JSON result as the last line")
    return p.parse_args()


def main() -> None:
    args = parse_args()
    quiet_logs()
    if not args.clip.is_file():
        raise SystemExit(f"{args.clip} not found")
    with pinned_to(args.threads, allowed_cpus()) as pinning:
        cv2.setNumThreads(args.threads)
        raw_s, raw_n = decode_only_s(args.clip)
        run = staged_run(args.clip, args.threads, args.analysis_fps, gate_on=True)
        profile_text = profile_pipeline(args.clip, args.threads, args.analysis_fps, args.top) if args.top else ""
    stage_s: dict[str, float] = run["stage_s"]
    total_s = sum(stage_s.values())
    table = Table(title=f"{args.clip.name}: time per stage, {args.threads} thread(s) on {len(pinning.cpus)} CPU(s)")
    for col in ("stage", "total s", "share", "ms / decoded frame", "ms / analysed frame"):
        table.add_column(col, justify="left" if col == "stage" else "right")
    for stage, s in stage_s.items():
        table.add_row(
            stage,
            f"{s:.2f}",
            f"{s / total_s:.0%}",
            f"{s * 1000 / max(1, run['decoded']):.2f}",
            f"{s * 1000 / max(1, run['analysed']):.2f}",
        )
    table.add_row(
        "decode only (no BGR conversion)",
        f"{raw_s:.2f}",
        "",
        f"{raw_s * 1000 / max(1, raw_n):.2f}",
        "",
    )
    out_console.print(table)
    out_console.print(f"frames decoded {run['decoded']}, analysed {run['analysed']}; load {load_average()[0]:.1f}")
    if profile_text:
        out_console.print(profile_text, highlight=False, markup=False)
    else:
        note("cProfile skipped (--top 0)")
    if args.json:
        emit_json(
            {
                "machine": machine_info(),
                "clip": args.clip.name,
                "threads": args.threads,
                "cpus": list(pinning.cpus),
                "frames_decoded": run["decoded"],
                "frames_analysed": run["analysed"],
                "stage_s": {k: round(v, 3) for k, v in stage_s.items()},
                "decode_only_s": round(raw_s, 3),
            }
        )


if __name__ == "__main__":
    main()
