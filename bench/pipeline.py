"""Pipeline speed: Vigil (sampled, motion-gated, tracked) vs a naive every-frame OpenCV baseline.

For each clip and each thread count (ONNX Runtime intra-op threads = ``cv2.setNumThreads`` =
CPUs the process is pinned to), in one process so that load from other users hits every
variant alike:

* (a) Vigil at ``--analysis-fps`` analysed fps with the motion gate on (``Deployment``);
* (b) the same with the gate off;
* (c) the naive baseline: every decoded frame through ``OpenCVDarknetDetector``
  (the Darknet cfg/weights kept in the model dir), no sampling, gate or tracker.

Reports analysed frames per second per core, the real-time factor (video seconds per wall
second), seconds of wall and CPU per video second, and each variant's speed-up over (c).
Also: detector milliseconds per 416x416 frame, ONNX Runtime vs OpenCV, 1 and 2 threads.

Run: ``.venv/bin/python bench/pipeline.py [--json]`` from the repo root.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from rich.progress import Progress
from rich.table import Table

from benchlib import (
    DOCS_IMG,
    SAMPLES,
    SHARED_DATA,
    Pinning,
    Stopwatch,
    allowed_cpus,
    bench_config,
    emit_json,
    event_counts,
    load_average,
    machine_info,
    matplotlib_pyplot,
    models_dir,
    note,
    out_console,
    pinned_to,
    progress_bar,
    quiet_logs,
    rel,
)
from vigil.camera.source import open_source
from vigil.config import VigilConfig
from vigil.core.classes import class_id
from vigil.core.frame import BGRImage, Frame
from vigil.detect.reference import OpenCVDarknetDetector
from vigil.detect.yolo import YoloDetector
from vigil.workers.analyze import analyze_recording, probe_duration_s, recording_camera
from vigil.workers.pipeline import FrameResult
from vigil.workers.runner import Deployment

TARGET_RTF = 3.0
"""Target: the whole pipeline at 5 analysed fps runs >= 3x faster than real time on one core."""

DEFAULT_CLIPS = (SAMPLES / "people.mp4", SHARED_DATA / "video" / "opencv" / "vtest.avi")


@dataclass(slots=True)
class VariantRun:
    """One clip through one variant at one thread count."""

    clip: str
    variant: str  # "vigil_gate", "vigil_nogate", "baseline_opencv", "analyze_recording"
    threads: int
    cores: int
    pinned_cpus: list[int]
    video_s: float
    frames_decoded: int
    frames_analysed: int
    frames_gated: int
    wall_s: float
    """Steady wall time: first frame opened to last frame analysed (no model load)."""
    total_wall_s: float
    """Wall time including model load and store setup."""
    cpu_s: float
    """CPU seconds of the whole process over ``total_wall_s`` (all threads)."""
    load_avg_1m: float
    tracks: dict[str, int] = field(default_factory=dict)
    events: dict[str, int] = field(default_factory=dict)
    """Stored events by type (camera health included)."""
    realtime_factor: float = 0.0
    cpu_realtime_factor: float = 0.0
    wall_s_per_video_s: float = 0.0
    cpu_s_per_video_s: float = 0.0
    analysed_fps: float = 0.0
    analysed_fps_per_core: float = 0.0
    speedup_vs_baseline: float | None = None
    cpu_speedup_vs_baseline: float | None = None

    def finish(self) -> VariantRun:
        self.realtime_factor = _ratio(self.video_s, self.wall_s)
        self.cpu_realtime_factor = _ratio(self.video_s, self.cpu_s)
        self.wall_s_per_video_s = _ratio(self.wall_s, self.video_s)
        self.cpu_s_per_video_s = _ratio(self.cpu_s, self.video_s)
        self.analysed_fps = _ratio(self.frames_analysed, self.wall_s)
        self.analysed_fps_per_core = self.analysed_fps / max(1, self.cores)
        return self


def _ratio(a: float, b: float) -> float:
    return round(a / b, 4) if b > 0 else 0.0


@dataclass(frozen=True, slots=True)
class DetectorTiming:
    runtime: str  # "onnxruntime" or "opencv_darknet"
    threads: int
    cores: int
    median_ms: float
    p90_ms: float
    iterations: int


def darknet_files(model_dir: Path) -> tuple[Path, Path]:
    """The Darknet ``.cfg`` and ``.weights`` kept beside the converted graph."""
    det_dir = model_dir / "yolov4-tiny"
    cfgs = sorted(det_dir.glob("*.cfg"))
    weights = sorted(det_dir.glob("*.weights"))
    if not cfgs or not weights:
        raise SystemExit(f"no Darknet .cfg/.weights in {det_dir}; run `vigil models install`")
    return cfgs[0], weights[0]


def default_class_ids(cfg: VigilConfig) -> list[int]:
    return [class_id(name) for name in cfg.detector.classes]


def run_vigil(
    video: Path,
    *,
    threads: int,
    pinning: Pinning,
    analysis_fps: float,
    motion_gate: bool,
    progress: Progress,
) -> VariantRun:
    """One Deployment over ``video`` exactly as ``analyze_recording`` wires it (minus the writer)."""
    duration_s = probe_duration_s(video) or 0.0
    variant = "vigil_gate" if motion_gate else "vigil_nogate"
    task = progress.add_task(f"{video.name} {variant} t={threads}", total=max(duration_s, 1.0))

    def on_frame(frame: Frame, _result: FrameResult) -> None:
        progress.update(task, completed=frame.pts_s)

    with tempfile.TemporaryDirectory(prefix="vigil-bench-") as tmp:
        cfg = bench_config(Path(tmp), threads=threads)
        cam = recording_camera(video, cfg, analysis_fps, motion_gate)
        # A short health interval makes the run's wall time end within 0.2 s of the last frame,
        # not at the next 2 s health tick as in analyze_recording() (see docs/benchmarks.md).
        deployment = Deployment(cfg, (cam,), on_frame=on_frame, block_when_full=True, health_interval_s=0.2)
        with Stopwatch() as sw:
            summary = deployment.run(threading.Event())
        events = event_counts(Path(tmp))
    progress.remove_task(task)
    cams = summary.cameras
    return VariantRun(
        clip=video.name,
        variant=variant,
        threads=threads,
        cores=len(pinning.cpus),
        pinned_cpus=list(pinning.cpus),
        video_s=duration_s,
        frames_decoded=summary.frames_decoded,
        frames_analysed=summary.frames_analysed,
        frames_gated=sum(c.frames_gated for c in cams),
        wall_s=summary.wall_s,
        total_wall_s=sw.wall_s,
        cpu_s=sw.cpu_s,
        load_avg_1m=load_average()[0],
        tracks=dict(summary.tracks),
        events=events,
    ).finish()


def run_analyze_recording(
    video: Path, *, threads: int, pinning: Pinning, analysis_fps: float, progress: Progress
) -> VariantRun:
    """The shipped entry point, as ``vigil analyze`` calls it (2 s health interval included)."""
    duration_s = probe_duration_s(video) or 0.0
    task = progress.add_task(f"{video.name} analyze_recording t={threads}", total=max(duration_s, 1.0))
    with tempfile.TemporaryDirectory(prefix="vigil-bench-") as tmp:
        cfg = bench_config(Path(tmp), threads=threads)
        with Stopwatch() as sw:
            summary = analyze_recording(
                video,
                cfg,
                analysis_fps=analysis_fps,
                motion_gate=True,
                progress=lambda pts_s: progress.update(task, completed=pts_s),
            )
        events = event_counts(Path(tmp))
    progress.remove_task(task)
    return VariantRun(
        clip=video.name,
        variant="analyze_recording",
        threads=threads,
        cores=len(pinning.cpus),
        pinned_cpus=list(pinning.cpus),
        video_s=duration_s,
        frames_decoded=summary.frames_decoded,
        frames_analysed=summary.frames_analysed,
        frames_gated=sum(c.frames_gated for c in summary.cameras),
        wall_s=summary.wall_s,
        total_wall_s=sw.wall_s,
        cpu_s=sw.cpu_s,
        load_avg_1m=load_average()[0],
        tracks=dict(summary.tracks),
        events=events,
    ).finish()


def run_baseline(
    video: Path,
    *,
    threads: int,
    pinning: Pinning,
    max_frames: int,
    progress: Progress,
) -> VariantRun:
    """Every decoded frame through OpenCV's Darknet importer: no sampling, gate or tracker."""
    cv2.setNumThreads(threads)
    cfg_file, weights_file = darknet_files(models_dir())
    defaults = bench_config(Path(tempfile.gettempdir()), threads=threads)
    duration_s = probe_duration_s(video) or 0.0
    task = progress.add_task(f"{video.name} baseline_opencv t={threads}", total=max(duration_s, 1.0))
    n = 0
    fps = 0.0
    with Stopwatch() as total:
        detector = OpenCVDarknetDetector(
            cfg_file,
            weights_file,
            input_size=defaults.detector.input_size,
            confidence=defaults.detector.confidence,
            nms_iou=defaults.detector.nms_iou,
            class_ids=default_class_ids(defaults),
            threads=threads,
        )
        started = time.perf_counter()
        with open_source(str(video), "baseline") as source:
            fps = source.fps
            for frame in source:
                detector.detect(frame.image)
                n += 1
                progress.update(task, completed=frame.pts_s)
                if max_frames and n >= max_frames:
                    break
        wall_s = time.perf_counter() - started
    progress.remove_task(task)
    # A capped run covers only part of the clip: compare per video second actually covered.
    covered_s = n / fps if (max_frames and fps > 0) else duration_s
    return VariantRun(
        clip=video.name,
        variant="baseline_opencv",
        threads=threads,
        cores=len(pinning.cpus),
        pinned_cpus=list(pinning.cpus),
        video_s=covered_s,
        frames_decoded=n,
        frames_analysed=n,
        frames_gated=0,
        wall_s=wall_s,
        total_wall_s=total.wall_s,
        cpu_s=total.cpu_s,
        load_avg_1m=load_average()[0],
    ).finish()


def probe_frame(video: Path, at_s: float) -> BGRImage:
    """The first frame at or after ``at_s`` seconds (one with people in it, for the detector timing)."""
    with open_source(str(video), "probe") as source:
        last: BGRImage | None = None
        for frame in source:
            last = frame.image
            if frame.pts_s >= at_s:
                break
    if last is None:
        raise SystemExit(f"{video}: no frames")
    return last


def time_detectors(
    image: BGRImage, *, threads: int, pinning: Pinning, iterations: int, progress: Progress
) -> list[DetectorTiming]:
    """Milliseconds per ``detect()`` of a 416x416 frame, ORT and OpenCV interleaved.

    Interleaving (ORT, OpenCV, ORT, ...) spreads the machine's background load over both.
    """
    cv2.setNumThreads(threads)
    cfg_file, weights_file = darknet_files(models_dir())
    frame = cv2.resize(image, (416, 416), interpolation=cv2.INTER_AREA)
    ort_det = YoloDetector(models_dir() / "yolov4-tiny", input_size=416, confidence=0.3, threads=threads)
    cv_det = OpenCVDarknetDetector(cfg_file, weights_file, input_size=416, confidence=0.3, threads=threads)
    for _ in range(3):  # warm-up: first runs allocate and pick kernels
        ort_det.detect(frame)
        cv_det.detect(frame)
    samples: dict[str, list[float]] = {"onnxruntime": [], "opencv_darknet": []}
    task = progress.add_task(f"detector 416x416 t={threads}", total=iterations)
    for _ in range(iterations):
        for name, det in (("onnxruntime", ort_det), ("opencv_darknet", cv_det)):
            t0 = time.perf_counter()
            det.detect(frame)
            samples[name].append((time.perf_counter() - t0) * 1000)
        progress.advance(task)
    progress.remove_task(task)
    out = []
    for name, ms in samples.items():
        out.append(
            DetectorTiming(
                runtime=name,
                threads=threads,
                cores=len(pinning.cpus),
                median_ms=round(statistics.median(ms), 2),
                p90_ms=round(float(np.percentile(ms, 90)), 2),
                iterations=iterations,
            )
        )
    return out


def add_speedups(runs: list[VariantRun]) -> None:
    """Speed-up of each variant over the baseline of the same clip and thread count."""
    for run in runs:
        base = next(
            (b for b in runs if b.variant == "baseline_opencv" and b.clip == run.clip and b.threads == run.threads),
            None,
        )
        if base is None or run.wall_s_per_video_s <= 0 or run.cpu_s_per_video_s <= 0:
            continue
        run.speedup_vs_baseline = round(base.wall_s_per_video_s / run.wall_s_per_video_s, 2)
        run.cpu_speedup_vs_baseline = round(base.cpu_s_per_video_s / run.cpu_s_per_video_s, 2)


def target_check(runs: list[VariantRun], analysis_fps: float) -> dict[str, Any]:
    """Is (a) on the bundled clip with one thread on one core >= 3x real time?"""
    run = next(
        (r for r in runs if r.clip == "people.mp4" and r.variant == "vigil_gate" and r.threads == 1),
        None,
    )
    if run is None:
        return {"checked": False, "why": "people.mp4 with threads=1 was not run"}
    return {
        "checked": True,
        "target": f"whole pipeline at {analysis_fps:g} analysed fps >= {TARGET_RTF:g}x real time "
        "on the bundled clip on one core",
        "cores": run.cores,
        "realtime_factor": run.realtime_factor,
        "passed": run.realtime_factor >= TARGET_RTF,
        "cpu_realtime_factor": run.cpu_realtime_factor,
        "passed_on_cpu_time": run.cpu_realtime_factor >= TARGET_RTF,
        "load_avg_1m": run.load_avg_1m,
    }


def print_tables(runs: list[VariantRun], timings: list[DetectorTiming], target: dict[str, Any]) -> None:
    table = Table(title="Pipeline speed (same process; speed-up = baseline time per video-s / this)")
    for col in (
        "clip",
        "variant",
        "thr",
        "cores",
        "frames an./dec.",
        "gated",
        "an. fps/core",
        "RTF",
        "CPU RTF",
        "wall s/vid-s",
        "CPU s/vid-s",
        "speed-up",
        "CPU speed-up",
        "load 1m",
    ):
        table.add_column(col, justify="left" if col in ("clip", "variant") else "right")
    for r in runs:
        table.add_row(
            r.clip,
            r.variant,
            str(r.threads),
            str(r.cores),
            f"{r.frames_analysed}/{r.frames_decoded}",
            str(r.frames_gated),
            f"{r.analysed_fps_per_core:.1f}",
            f"{r.realtime_factor:.2f}",
            f"{r.cpu_realtime_factor:.2f}",
            f"{r.wall_s_per_video_s:.3f}",
            f"{r.cpu_s_per_video_s:.3f}",
            "-" if r.speedup_vs_baseline is None else f"{r.speedup_vs_baseline:.1f}x",
            "-" if r.cpu_speedup_vs_baseline is None else f"{r.cpu_speedup_vs_baseline:.1f}x",
            f"{r.load_avg_1m:.1f}",
        )
    out_console.print(table)
    det = Table(title="Detector: ms per 416x416 frame (detect(), pre/post-processing included)")
    for col in ("runtime", "threads", "cores", "median ms", "p90 ms", "iterations"):
        det.add_column(col, justify="left" if col == "runtime" else "right")
    for t in timings:
        det.add_row(
            t.runtime,
            str(t.threads),
            str(t.cores),
            f"{t.median_ms:.1f}",
            f"{t.p90_ms:.1f}",
            str(t.iterations),
        )
    out_console.print(det)
    if target.get("checked"):
        verdict = "PASS" if target["passed"] else "FAIL"
        out_console.print(
            f"Target ({target['target']}): {verdict} - real-time factor {target['realtime_factor']:.2f} "
            f"on {target['cores']} core(s) (CPU-time RTF {target['cpu_realtime_factor']:.2f}, "
            f"load avg {target['load_avg_1m']:.1f})"
        )
    else:
        out_console.print(f"Target not checked: {target.get('why')}")


def plot(runs: list[VariantRun], path: Path) -> str | None:
    plt = matplotlib_pyplot()
    if plt is None:
        return None
    groups = sorted({(r.clip, r.threads) for r in runs})
    variants = ["vigil_gate", "vigil_nogate", "baseline_opencv"]
    width = 0.27
    fig, ax = plt.subplots(figsize=(8, 4.2))
    for i, variant in enumerate(variants):
        values = []
        for clip, threads in groups:
            run = next((r for r in runs if (r.clip, r.threads, r.variant) == (clip, threads, variant)), None)
            values.append(run.wall_s_per_video_s if run else 0.0)
        xs = [g + (i - 1) * width for g in range(len(groups))]
        ax.bar(xs, values, width, label=variant)
    ax.axhline(1 / TARGET_RTF, color="black", linestyle="--", linewidth=1, label=f"target {TARGET_RTF:g}x RT")
    ax.axhline(1.0, color="grey", linestyle=":", linewidth=1, label="real time")
    ax.set_xticks(range(len(groups)), [f"{c}\n{t} thread(s)/core(s)" for c, t in groups], fontsize=8)
    ax.set_ylabel("wall seconds per video second (lower is better)")
    ax.set_title("Vigil pipeline vs every-frame OpenCV baseline")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return rel(path)


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clips", nargs="*", type=Path, default=list(DEFAULT_CLIPS), help="video files")
    p.add_argument("--threads", default="1,2", help="comma-separated thread counts (default 1,2)")
    p.add_argument("--analysis-fps", type=float, default=5.0, help="Vigil's analysed frames per second")
    p.add_argument("--no-pin", action="store_true", help="do not pin the process to N CPUs for N threads")
    p.add_argument(
        "--baseline-max-frames",
        type=int,
        default=0,
        help="cap the baseline at this many frames per clip (0: whole clip); compared per video second",
    )
    p.add_argument("--detector-iters", type=int, default=30, help="iterations per detector timing")
    p.add_argument("--no-analyze-ref", action="store_true", help="skip the analyze_recording() reference run")
    p.add_argument("--plot", type=Path, default=DOCS_IMG / "pipeline.png", help="PNG to write")
    p.add_argument("--json", action="store_true", help="print a JSON result as the last line")
    return p.parse_args()


def main() -> None:
    args = parse_args()
    quiet_logs()
    thread_counts = [int(t) for t in args.threads.split(",") if t.strip()]
    clips: list[Path] = []
    for clip in args.clips:
        if clip.is_file():
            clips.append(clip)
        else:
            note(f"[yellow]skipping {clip}: not found[/yellow]")
    if not clips:
        raise SystemExit("no clips to run")
    all_cpus = allowed_cpus()
    info = machine_info()
    runs: list[VariantRun] = []
    timings: list[DetectorTiming] = []
    probe = probe_frame(SAMPLES / "people.mp4", at_s=20.0)
    with progress_bar() as progress:
        for threads in thread_counts:
            with pinned_to(threads, all_cpus, enabled=not args.no_pin) as pinning:
                cv2.setNumThreads(threads)
                if args.detector_iters > 0:
                    timings += time_detectors(
                        probe,
                        threads=threads,
                        pinning=pinning,
                        iterations=args.detector_iters,
                        progress=progress,
                    )
                for clip in clips:
                    for gate in (True, False):
                        runs.append(
                            run_vigil(
                                clip,
                                threads=threads,
                                pinning=pinning,
                                analysis_fps=args.analysis_fps,
                                motion_gate=gate,
                                progress=progress,
                            )
                        )
                    runs.append(
                        run_baseline(
                            clip,
                            threads=threads,
                            pinning=pinning,
                            max_frames=args.baseline_max_frames,
                            progress=progress,
                        )
                    )
                    if clip.name == "people.mp4" and threads == 1 and not args.no_analyze_ref:
                        runs.append(
                            run_analyze_recording(
                                clip,
                                threads=threads,
                                pinning=pinning,
                                analysis_fps=args.analysis_fps,
                                progress=progress,
                            )
                        )
    add_speedups(runs)
    target = target_check(runs, args.analysis_fps)
    print_tables(runs, timings, target)
    plot_path = plot(runs, args.plot)
    if plot_path:
        note(f"plot written to {plot_path}")
    info["load_avg_at_end"] = [round(x, 2) for x in load_average()]
    if args.json:
        emit_json(
            {
                "machine": info,
                "analysis_fps": args.analysis_fps,
                "pinned": not args.no_pin,
                "runs": [asdict(r) for r in runs],
                "detector_ms_416": [asdict(t) for t in timings],
                "target": target,
                "plot": plot_path,
            }
        )


if __name__ == "__main__":
    main()
