"""Peak memory of a deployment: 1 camera vs 4 cameras at once (target: < 600 MB with 4).

Each camera count runs in a fresh child process, because ``ru_maxrss`` and ``VmHWM`` are
high-water marks for the whole life of a process. The child samples ``VmRSS`` from
``/proc/self/status`` every ``--sample-ms`` while a ``Deployment`` analyses recordings
(``samples/people.mp4`` and ``samples/cars.mp4`` alternately, one per camera), and reports
RSS after imports, the sampled peak, ``VmHWM`` and ``ru_maxrss``.

Run: ``.venv/bin/python bench/memory.py [--cameras 1,4] [--json]`` from the repo root.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rich.table import Table

from benchlib import (
    DOCS_IMG,
    SAMPLES,
    bench_config,
    emit_json,
    load_average,
    machine_info,
    matplotlib_pyplot,
    note,
    out_console,
    progress_bar,
    quiet_logs,
    rel,
)
from vigil.config import CameraConfig
from vigil.core.frame import Frame
from vigil.workers.analyze import probe_duration_s
from vigil.workers.pipeline import FrameResult
from vigil.workers.runner import Deployment

TARGET_MB = 600.0
DEFAULT_CLIPS = (SAMPLES / "people.mp4", SAMPLES / "cars.mp4")


def proc_status_kb(*keys: str) -> dict[str, int]:
    """Values in kB of ``keys`` (e.g. ``VmRSS``) from ``/proc/self/status``; empty off Linux."""
    out: dict[str, int] = {}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in keys:
                out[name] = int(value.split()[0])
    except OSError:
        pass
    return out


class RssSampler:
    """Samples this process's ``VmRSS`` on a daemon thread."""

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self.samples: list[tuple[float, float]] = []  # (seconds since start, MB)
        self._stop = threading.Event()
        self._t0 = time.perf_counter()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def start(self) -> RssSampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while True:
            rss = proc_status_kb("VmRSS").get("VmRSS")
            if rss is not None:
                self.samples.append((time.perf_counter() - self._t0, rss / 1024))
            if self._stop.wait(self.interval_s):
                return

    @property
    def peak_mb(self) -> float:
        return max((mb for _, mb in self.samples), default=0.0)


@dataclass(slots=True)
class MemoryRun:
    cameras: int
    threads: int
    clips: list[str]
    rss_after_imports_mb: float
    peak_sampled_rss_mb: float
    vm_hwm_mb: float
    ru_maxrss_mb: float
    rss_at_end_mb: float
    wall_s: float
    frames_analysed: int
    frames_decoded: int
    video_s: float
    load_avg_1m: float
    timeline: list[tuple[float, float]] = field(default_factory=list)


def child(n_cameras: int, threads: int, clips: list[Path], sample_ms: float, max_s: float) -> MemoryRun:
    """Run one Deployment with ``n_cameras`` cameras in this process and measure its memory."""
    rss_imports = proc_status_kb("VmRSS").get("VmRSS", 0) / 1024
    sampler = RssSampler(sample_ms / 1000).start()
    videos = [clips[i % len(clips)] for i in range(n_cameras)]
    video_s = sum(probe_duration_s(v) or 0.0 for v in videos)
    stop = threading.Event()
    timer = threading.Timer(max_s, stop.set) if max_s > 0 else None
    with tempfile.TemporaryDirectory(prefix="vigil-mem-") as tmp, progress_bar() as progress:
        cfg = bench_config(Path(tmp), threads=threads)
        cams = tuple(CameraConfig(id=f"cam{i}", url=str(v.resolve()), analysis_fps=5.0) for i, v in enumerate(videos))
        task = progress.add_task(f"{n_cameras} camera(s)", total=None)
        lock = threading.Lock()

        def on_frame(_frame: Frame, _result: FrameResult) -> None:
            with lock:
                progress.advance(task)

        deployment = Deployment(cfg, cams, on_frame=on_frame)
        t0 = time.perf_counter()
        if timer is not None:
            timer.start()
        summary = deployment.run(stop)
        wall_s = time.perf_counter() - t0
        if timer is not None:
            timer.cancel()
    sampler.stop()
    status = proc_status_kb("VmHWM", "VmRSS")
    return MemoryRun(
        cameras=n_cameras,
        threads=threads,
        clips=[v.name for v in videos],
        rss_after_imports_mb=round(rss_imports, 1),
        peak_sampled_rss_mb=round(sampler.peak_mb, 1),
        vm_hwm_mb=round(status.get("VmHWM", 0) / 1024, 1),
        # Linux reports ru_maxrss in kB.
        ru_maxrss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        rss_at_end_mb=round(status.get("VmRSS", 0) / 1024, 1),
        wall_s=round(wall_s, 2),
        frames_analysed=summary.frames_analysed,
        frames_decoded=summary.frames_decoded,
        video_s=round(video_s, 1),
        load_avg_1m=round(load_average()[0], 2),
        timeline=[(round(t, 2), round(mb, 1)) for t, mb in sampler.samples],
    )


def run_child(n_cameras: int, args: argparse.Namespace) -> MemoryRun:
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        str(n_cameras),
        "--threads",
        str(args.threads),
        "--sample-ms",
        str(args.sample_ms),
        "--max-s",
        str(args.max_s),
        "--clips",
        *[str(c) for c in args.clips],
    ]
    done = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"child for {n_cameras} camera(s) failed with exit status {done.returncode}")
    return MemoryRun(**json.loads(done.stdout.strip().splitlines()[-1]))


def plot(runs: list[MemoryRun], path: Path) -> str | None:
    plt = matplotlib_pyplot()
    if plt is None:
        return None
    fig, ax = plt.subplots(figsize=(7, 3.8))
    for run in runs:
        ts = [t for t, _ in run.timeline]
        mbs = [mb for _, mb in run.timeline]
        ax.plot(ts, mbs, label=f"{run.cameras} camera(s), peak {run.peak_sampled_rss_mb:.0f} MB")
    ax.axhline(TARGET_MB, color="black", linestyle="--", linewidth=1, label=f"target {TARGET_MB:.0f} MB")
    ax.set_xlabel("seconds since start of the run")
    ax.set_ylabel("VmRSS (MB)")
    ax.set_ylim(bottom=0)
    ax.set_title("Resident memory of one Vigil process")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return rel(path)


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cameras", default="1,4", help="comma-separated camera counts, one child each")
    p.add_argument("--threads", type=int, default=2, help="detector threads (config default: 2)")
    p.add_argument("--clips", nargs="*", type=Path, default=list(DEFAULT_CLIPS), help="camera i plays clip i mod n")
    p.add_argument("--sample-ms", type=float, default=50.0, help="VmRSS sampling period")
    p.add_argument("--max-s", type=float, default=0.0, help="stop each run after this many seconds (0: to the end)")
    p.add_argument("--plot", type=Path, default=DOCS_IMG / "memory.png", help="PNG to write")
    p.add_argument("--json", action="store_true", help="print a JSON result as the last line")
    p.add_argument("--child", type=int, default=0, help=argparse.SUPPRESS)
    return p.parse_args()


def main() -> None:
    args = parse_args()
    quiet_logs()
    missing = [c for c in args.clips if not c.is_file()]
    if missing:
        raise SystemExit(f"clip(s) not found: {', '.join(map(str, missing))}")
    if args.child:
        run = child(args.child, args.threads, args.clips, args.sample_ms, args.max_s)
        emit_json(asdict(run))
        return
    info = machine_info()
    runs = []
    for n in (int(c) for c in args.cameras.split(",") if c.strip()):
        note(f"running {n} camera(s) in a fresh process ...")
        runs.append(run_child(n, args))
    table = Table(title=f"Peak memory, one process, detector threads={args.threads} (target < {TARGET_MB:.0f} MB)")
    for col in (
        "cameras",
        "RSS after imports MB",
        "peak VmRSS (sampled) MB",
        "VmHWM MB",
        "ru_maxrss MB",
        "frames an./dec.",
        "video s (all clips)",
        "wall s",
        "load 1m",
        "target",
    ):
        table.add_column(col, justify="right")
    for r in runs:
        peak = max(r.vm_hwm_mb, r.ru_maxrss_mb, r.peak_sampled_rss_mb)
        table.add_row(
            str(r.cameras),
            f"{r.rss_after_imports_mb:.0f}",
            f"{r.peak_sampled_rss_mb:.0f}",
            f"{r.vm_hwm_mb:.0f}",
            f"{r.ru_maxrss_mb:.0f}",
            f"{r.frames_analysed}/{r.frames_decoded}",
            f"{r.video_s:.0f}",
            f"{r.wall_s:.1f}",
            f"{r.load_avg_1m:.1f}",
            "PASS" if peak < TARGET_MB else "FAIL",
        )
    out_console.print(table)
    plot_path = plot(runs, args.plot)
    if plot_path:
        note(f"plot written to {plot_path}")
    if args.json:
        four = next((r for r in runs if r.cameras == 4), None)
        emit_json(
            {
                "machine": info,
                "target_mb": TARGET_MB,
                "target_passed": None
                if four is None
                else max(four.vm_hwm_mb, four.ru_maxrss_mb, four.peak_sampled_rss_mb) < TARGET_MB,
                "runs": [{k: v for k, v in asdict(r).items() if k != "timeline"} for r in runs],
                "plot": plot_path,
            }
        )


if __name__ == "__main__":
    main()
