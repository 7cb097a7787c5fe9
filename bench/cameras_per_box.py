"""Live cameras one box serves in real time, today's default detector against the new one.

Each camera is a real RTSP stream on loopback (``tests/support/rtsp_server.py``: GStreamer,
H.264 passed through, paced at the clip's frame rate with ``clocksync``, looped), alternating
between ``samples/people.mp4`` and the Intel one-by-one clip. ``vigil run`` analyses N cameras
at ``analysis_fps`` (default 5) with the default config otherwise (motion gate on; faces, plates
and crowd stages off unless ``--stages``), then gets SIGTERM. Only the ``--seconds`` after every
camera has analysed its first frame count (start-up is left out): from the ``camera_health``
counters, each camera's frames decoded, analysed and dropped because the analysis was busy,
over the seconds between its first and last report. A camera is *due* ``min(fps, clip fps)``
sampled frames a second; *missed* are the frames dropped plus the sampled share of the frames
it did not decode at the stream's rate (decoding that falls behind loses frames before the
sampler, where the drop counter does not see them: at load 25 under ``nice``, 40 cameras
analysed 61 frames in 5 s, about a tenth of what the gate passes, and reported no drop).
A step at N cameras *keeps up* when at most 1% of the due frames are missed and every camera
analysed. Frames the motion gate skips are served, not
missed. Every camera pulls its own stream (fresh servers each step: a shared stream left by 24
clients at once crashed GStreamer's server), all started together, so the cameras of one clip
see the same scene at the same time (their bursts coincide: the hard case); a 40 s window
(``--seconds 40``) holds a whole loop of ``people.mp4`` (40.1 s), so the verdict does not depend
on where in that clip it began.

The search, per detector (each has its own start, ``--start yolov4-tiny=6,yolox-nano=16``, so
that an idle 2-core box is measured in about 15-25 minutes): galloping from the start, N x 1.5
(rounded up) while it keeps up (halving while it does not), then bisection between the largest N
that kept up and the smallest that fell behind, until they are neighbours. The largest N that
kept up is then run once more (``--confirm``, default 1): a lucky window does not make the
figure; if the re-run falls behind, the next smaller N is confirmed instead. The real-time
figure is the confirmed N. Bisection assumes that a box which keeps up at N keeps up at every
smaller N (true up to noise: past capacity the analysis queue overflows within seconds, so 1%
of the due frames is a clear line; at 2 cameras on a busy box decoding lost 0-0.6 frames in
20 s). Detectors take turns step by step, so the
neighbours' load hits both alike; ``--budget-min`` stops the search where it is and reports the
bounds reached. Peak memory per camera is the slope of ``vigil run``'s peak RSS over the
cameras of every step (least squares), the intercept the process's own.

A second figure, for machines Vigil does not have to itself (the team's shared 2-core box, where
at load 10 no detector keeps even one camera in real time under ``nice``): cameras by CPU time,
the cameras served (share of the due frames analysed) per share of the CPUs Vigil itself used
(``camera_health.cpu_share`` summed, the last 10 s of the window; ``vigil.workers.usage``). It is
the straight-line estimate ``vigil status`` gives, and compares detectors on the same CPU; it
ignores bursts, so the real-time figure on an idle box is the one to plan with.

Run (idle box): ``OMP_NUM_THREADS=1 .venv/bin/python bench/cameras_per_box.py --variants yolov4-tiny,yolox-nano
--start yolov4-tiny=6,yolox-nano=16 --seconds 40 [--budget-min 16] [--stages] [--json]``,
or ``--fixed N --repeat R`` to run N cameras per detector R times, taking turns (no search).
(needs ``/usr/bin/python3`` with GStreamer's RTSP server, see ``../shared/docs/TESTING.md``).
"""

from __future__ import annotations

import argparse
import json
import os
import select
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import av
import yaml
from rich.table import Table

from benchlib import REPO_ROOT, SHARED_DATA, emit_json, load_average, machine_info, models_dir, note, out_console

SERVER = REPO_ROOT / "tests" / "support" / "rtsp_server.py"
CLIPS = (REPO_ROOT / "samples" / "people.mp4", SHARED_DATA / "video" / "intel" / "one-by-one-person-detection.mp4")
VARIANTS: dict[str, dict[str, Any]] = {
    # The default before issue 23 (2 ONNX Runtime threads per call then), and the default since
    # (threads unset: 1 with as many cameras as CPUs) without and with motion regions.
    "yolov4-tiny": {"model": "yolov4-tiny", "threads": 2},
    # The old detector as issue 23 runs detectors (1 thread per camera's call): what is the detector's.
    "yolov4-tiny 1 thread": {"model": "yolov4-tiny", "threads": 1},
    "yolox-nano whole frames": {"model": "yolox-nano", "motion_regions": False},
    "yolox-nano": {"model": "yolox-nano"},
    # Cameras that hold 0.4 s of frames while their analysis is busy (cameras[].queue_s before
    # issue 23's run: 2 frames at 5 fps), not 2 s: a track's snapshot redaction then drops frames.
    "yolov4-tiny queue 0.4 s": {"model": "yolov4-tiny", "threads": 2, "queue_s": 0.4},
    "yolox-nano queue 0.4 s": {"model": "yolox-nano", "queue_s": 0.4},
}
MODELS = tuple(VARIANTS)
BASELINE = "yolov4-tiny"
MAX_DROPPED = 0.01
COUNTERS = ("frames_analysed", "frames_dropped", "frames_in")
QUEUE_S = [0.0]
"""``cameras[].queue_s`` for every camera (0: the config's default); ``--queue-s``."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(clip: Path) -> tuple[subprocess.Popen[bytes], str, float]:
    """A looping, real-time RTSP server for ``clip``; every camera of that clip pulls its own stream."""
    port = free_port()
    args = ["/usr/bin/python3", str(SERVER), "--clip", str(clip), "--port", str(port), "--path", "/cam"]
    proc = subprocess.Popen([*args, "--realtime", "--loop"], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], 15)
    if not ready or proc.stdout.readline().strip() != b"READY":
        proc.kill()
        raise SystemExit(f"RTSP server for {clip} did not start")
    with av.open(str(clip)) as container:
        clip_fps = float(container.streams.video[0].average_rate or 25)
    return proc, f"rtsp://127.0.0.1:{port}/cam", clip_fps


def health(db_path: Path) -> dict[str, dict[str, Any]]:
    """The ``camera_health`` rows ``vigil run`` keeps up to date, by camera."""
    if not db_path.exists():
        return {}
    try:
        with sqlite3.connect(db_path) as db:
            db.row_factory = sqlite3.Row
            return {r["camera_id"]: dict(r) for r in db.execute("SELECT * FROM camera_health")}
    except sqlite3.OperationalError:  # the schema is still being created
        return {}


def run_cameras(
    model: str, urls: list[str], seconds: float, fps: float, stages: bool, threads: int | None = None
) -> dict[str, Any]:
    """``vigil run`` on ``len(urls)`` cameras; once every camera analyses, ``seconds`` are measured.

    Returns:
        The run's JSON summary, with ``window`` (analysed and dropped frames in the measured
        seconds, from the health counters: start-up is left out) and ``peak_rss_mib``.
    """
    with tempfile.TemporaryDirectory(prefix="vigil-cpb-") as tmp:
        cameras = [
            {"id": f"cam{i}", "url": url, "analysis_fps": fps, "open_timeout_s": 10, "read_timeout_s": 10}
            | ({"queue_s": QUEUE_S[0]} if QUEUE_S[0] else {})
            | ({"queue_s": VARIANTS[model]["queue_s"]} if "queue_s" in VARIANTS[model] else {})
            for i, url in enumerate(urls)
        ]
        detector: dict[str, Any] = {k: v for k, v in VARIANTS[model].items() if k != "queue_s"}
        detector |= {"threads": threads} if threads else {}
        config: dict[str, Any] = {"detector": detector, "cameras": cameras}
        if stages:
            config |= {"faces": {"enabled": True}, "plates": {"enabled": True}, "crowd": {"enabled": True}}
        path = Path(tmp) / "cameras.yaml"
        path.write_text(yaml.safe_dump(config))
        env = dict(os.environ, VIGIL_DATA_DIR=str(Path(tmp) / "data"), VIGIL_MODELS_DIR=str(models_dir()))
        proc = subprocess.Popen(
            [sys.executable, "-m", "vigil.cli.main", "run", "--config", str(path), "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        db_path = Path(tmp) / "data" / "vigil.db"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            now = health(db_path)
            if len(now) == len(urls) and all(h["frames_analysed"] > 0 for h in now.values()):
                break
            time.sleep(0.5)
        start = health(db_path)
        time.sleep(seconds)
        end = health(db_path)
        peak_kib = _peak_kib(proc.pid)
        proc.send_signal(signal.SIGTERM)
        # Shutdown writes the snapshots still queued (workers/snapshots.py: up to 64, ~1 s each).
        stdout, stderr = proc.communicate(timeout=300)
        if proc.returncode != 0:
            raise SystemExit(f"vigil run failed ({proc.returncode}): {stderr.strip().splitlines()[-1:]}")
        summary: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
        summary["peak_rss_mib"] = round(peak_kib / 1024, 1)
        summary["window"] = {
            cam: {
                k: end[cam][k] - start.get(cam, {}).get(k, 0)
                for k in ("frames_analysed", "frames_dropped", "frames_in")
            }
            | {"seconds": _seconds(start.get(cam, {}).get("updated_at"), end[cam]["updated_at"])}
            for cam in end
        }
        # Vigil's own CPU share over the last 10 s of the window (camera_health.cpu_share, summed).
        summary["window_cpu_share"] = sum(h.get("cpu_share") or 0.0 for h in end.values())
        return summary


def _seconds(start: str | None, end: str) -> float:
    """Seconds between two ``camera_health.updated_at`` values (0 when the first is missing)."""
    if start is None:
        return 0.0
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def _peak_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def cpu_estimate(summary: dict[str, Any], cameras: int, clip_fps: list[float], fps: float) -> float | None:
    """Cameras the box would serve if Vigil had all its CPUs: the cameras served (the share of
    due frames analysed) per share of the CPUs Vigil used. On a shared machine, where Vigil does
    not get the CPUs, this is the figure that compares detectors; it ignores bursts."""
    share = summary.get("window_cpu_share") or 0.0
    _, rate = verdict(summary, cameras, clip_fps, fps)
    return round(cameras * (1.0 - rate) / share, 2) if share > 0 else None


def verdict(summary: dict[str, Any], cameras: int, clip_fps: list[float], fps: float) -> tuple[bool, float]:
    """Whether every camera kept up in the measured window, and the share of due frames missed.

    A camera is due ``min(fps, clip fps)`` sampled frames per second of the window (timed by its
    health reports). Missed: frames dropped because the analysis was busy, and frames that never
    reached the sampler because decoding fell behind the camera (fewer decoded than the stream's
    rate over the window; counted in sampled frames). Keeps up: at most 1% missed, and every
    camera analysed something.
    """
    window = summary["window"]
    due = missed = 0.0
    for i in range(cameras):
        cam = window.get(f"cam{i}")
        if cam is None or cam["seconds"] <= 0:  # not reporting, or not before the window began
            return False, 1.0
        sampled_share = min(1.0, fps / clip_fps[i])
        due += cam["seconds"] * clip_fps[i] * sampled_share
        missed += cam["frames_dropped"] + max(0.0, cam["seconds"] * clip_fps[i] - cam["frames_in"]) * sampled_share
    rate = missed / due if due else 1.0
    every = all(c["frames_analysed"] > 0 for c in window.values())
    return rate <= MAX_DROPPED and every, rate


class Search:
    """One detector's search for the most cameras kept in real time (see the module's docstring)."""

    def __init__(self, start: int, max_cameras: int, confirm: int) -> None:
        self.max_cameras = max_cameras
        self.kept = 0
        """Largest N that kept up (0: none yet)."""
        self.fell = max_cameras + 1
        """Smallest N that fell behind (``max_cameras + 1``: none yet)."""
        self.next: int | None = max(1, min(start, max_cameras))
        self._confirm_left = confirm
        self._confirming = False
        self.confirmed: int | None = None
        """The figure: the largest N that kept up, run again; None while searching."""

    def record(self, n: int, ok: bool) -> None:
        """Take the verdict of a step at ``n`` cameras and choose the next step (None: done)."""
        if self._confirming:
            if ok:
                self._confirm_left -= 1
                if self._confirm_left <= 0:
                    self.confirmed, self.next = n, None
                return
            # The re-run fell behind: that N is not the figure; confirm the next smaller one.
            self.fell = min(self.fell, n)
            self.kept = min(self.kept, n - 1)
            self.next = self.kept if self.kept > 0 else None
            if self.next is None:
                self.confirmed = 0
            return
        if ok:
            self.kept = max(self.kept, n)
        else:
            self.fell = min(self.fell, n)
        if self.fell <= self.kept:  # noise: a larger N kept up where a smaller one fell behind
            self.kept = self.fell - 1
        if self.fell - self.kept > 1:
            if self.fell > self.max_cameras:
                self.next = min(self.max_cameras, max(n + 1, -(-n * 3 // 2)))
            elif self.kept == 0:
                self.next = max(1, n // 2) if n > 1 else None
            else:
                self.next = (self.kept + self.fell) // 2
            if self.next is not None and self.next not in range(self.kept + 1, self.fell):
                self.next = None
            if self.next is not None:
                return
        if self.kept == 0:
            self.confirmed, self.next = 0, None
        elif self._confirm_left > 0:
            self._confirming, self.next = True, self.kept
        else:
            self.confirmed, self.next = self.kept, None


def parse_starts(text: str, chosen: tuple[str, ...]) -> dict[str, int]:
    """``--start``: one N for every detector, or ``name=N`` pairs (the rest start at 1)."""
    if "=" not in text:
        return dict.fromkeys(chosen, int(text))
    starts = dict.fromkeys(chosen, 1)
    for item in text.split(","):
        name, _, value = item.partition("=")
        if name.strip() not in chosen or not value.strip().isdigit() or int(value) < 1:
            raise SystemExit(f"--start: {item!r} is not NAME=N with N >= 1 for a chosen variant ({', '.join(chosen)})")
        starts[name.strip()] = int(value)
    return starts


def memory_per_camera(points: list[tuple[int, float]]) -> tuple[float, float] | None:
    """Least-squares slope (MiB per camera) and intercept of peak RSS over cameras."""
    if len({n for n, _ in points}) < 2:
        return None
    mean_n = statistics.fmean(n for n, _ in points)
    mean_m = statistics.fmean(m for _, m in points)
    slope = sum((n - mean_n) * (m - mean_m) for n, m in points) / sum((n - mean_n) ** 2 for n, _ in points)
    return round(slope, 1), round(mean_m - slope * mean_n, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--fps", type=float, default=5.0)
    parser.add_argument("--start", default="1", help="first N: one for all, or NAME=N,NAME=N per variant")
    parser.add_argument("--max-cameras", type=int, default=64)
    parser.add_argument("--confirm", type=int, default=1, help="re-runs of the largest N that kept up")
    parser.add_argument("--budget-min", type=float, default=0, help="stop searching after this many minutes")
    parser.add_argument("--stages", action="store_true", help="faces, plates and crowd stages on")
    parser.add_argument(
        "--fixed",
        type=int,
        default=0,
        help="run exactly this many cameras per detector (no search), repeated --repeat times",
    )
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--threads", type=int, default=0, help="detector.threads (default: the config's default)")
    parser.add_argument("--variants", default=",".join(MODELS), help=f"comma-separated, of: {', '.join(MODELS)}")
    parser.add_argument("--queue-s", type=float, default=0.0, help="cameras[].queue_s (default: the config's)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    QUEUE_S[0] = args.queue_s
    chosen = tuple(v.strip() for v in args.variants.split(","))
    unknown = [v for v in chosen if v not in VARIANTS]
    if unknown or BASELINE not in chosen:
        raise SystemExit(f"--variants: unknown {unknown} or no {BASELINE!r}; choose from {list(VARIANTS)}")
    machine = machine_info()
    note(f"CPU: {machine['cpu_model']}, {machine['cpus']} cpus, load {machine['load_avg_at_start']}")
    clips = CLIPS
    servers = [start_server(clip) for clip in clips if clip.is_file()]
    runs: list[dict[str, Any]] = []
    served: dict[str, int] = dict.fromkeys(chosen, 0)
    starts = parse_starts(args.start, chosen)
    searches = {m: Search(starts[m], args.max_cameras, args.confirm) for m in chosen}

    def step(model: str, n: int) -> bool:
        # Fresh servers for every step: a shared stream torn down by 24 clients at once stopped
        # serving new ones (the next steps got no frames from it).
        for proc, _url, _fps in servers:
            proc.kill()
            proc.wait()
        servers[:] = [start_server(clip) for clip in clips if clip.is_file()]
        urls = [servers[i % len(servers)][1] for i in range(n)]
        began = time.monotonic()
        summary = run_cameras(model, urls, args.seconds, args.fps, args.stages, args.threads)
        cam_fps = [servers[i % len(servers)][2] for i in range(n)]
        ok, rate = verdict(summary, n, cam_fps, args.fps)
        by_cpu = cpu_estimate(summary, n, cam_fps, args.fps)
        lost = sum(max(0.0, c["seconds"] * cam_fps[int(k[3:])] - c["frames_in"]) for k, c in summary["window"].items())
        runs.append(
            {
                "model": model,
                "cameras": n,
                "kept_up": ok,
                "dropped_rate": round(rate, 4),
                "window_frames_analysed": sum(c["frames_analysed"] for c in summary["window"].values()),
                "window_frames_dropped": sum(c["frames_dropped"] for c in summary["window"].values()),
                "window_frames_not_decoded": round(lost, 1),
                "window_s": round(statistics.fmean(c["seconds"] for c in summary["window"].values()), 1),
                "frames_gated": summary["frames_gated"],
                "peak_rss_mib": summary["peak_rss_mib"],
                "box": summary.get("box"),
                "window_cpu_share": round(summary["window_cpu_share"], 4),
                # The box's snapshot writer over the whole run: snapshots it had no room for are
                # the price of not stalling the cameras (workers/snapshots.py).
                "snapshots": summary.get("snapshots"),
                "cameras_by_cpu_time": by_cpu,
                "load_avg": [round(x, 2) for x in load_average()],
                "step_s": round(time.monotonic() - began, 1),
            }
        )
        snaps = summary.get("snapshots") or {}
        note(
            f"{model}: {n} camera(s): missed {rate:.1%} (not decoded {lost:.0f} frames), "
            f"snapshots {snaps.get('written', '-')} written, {sum((snaps.get('skipped') or {}).values())} skipped, "
            f"peak {summary['peak_rss_mib']} MiB, "
            f"Vigil CPU {summary['window_cpu_share']:.0%} of {machine['cpus']} (cameras by CPU time {by_cpu}), "
            f"load {load_average()[0]:.1f}, {'kept up' if ok else 'fell behind'}"
        )
        return ok

    try:
        if args.fixed:
            for _ in range(args.repeat):
                for model in chosen:
                    step(model, args.fixed)
        else:
            began = time.monotonic()
            while any(searches[m].next is not None for m in chosen):
                if args.budget_min and time.monotonic() - began > 60 * args.budget_min:
                    note(f"--budget-min {args.budget_min:g} reached: reporting the bounds so far")
                    break
                for model in chosen:
                    n = searches[model].next
                    if n is not None:
                        searches[model].record(n, step(model, n))
    finally:
        for proc, _url, _fps in servers:
            proc.kill()
            proc.wait()
    bounds: dict[str, list[int]] = {}
    memory: dict[str, tuple[float, float] | None] = {}
    for model in chosen:
        mine = [r for r in runs if r["model"] == model]
        if args.fixed:
            served[model] = max((r["cameras"] for r in mine if r["kept_up"]), default=0)
        else:
            search = searches[model]
            served[model] = search.confirmed if search.confirmed is not None else search.kept
            bounds[model] = [search.kept, search.fell]
        memory[model] = memory_per_camera([(r["cameras"], r["peak_rss_mib"]) for r in mine])
    by_cpu: dict[str, float | None] = {}
    for model in chosen:
        figures = [r["cameras_by_cpu_time"] for r in runs if r["model"] == model and r["cameras_by_cpu_time"]]
        by_cpu[model] = round(statistics.median(figures), 2) if figures else None
    title = f"cameras at {args.fps:g} analysed fps ({machine['cpu_model']}, {machine['cpus']} cpus)"
    table = Table(title=title + (", stages on" if args.stages else ""))
    columns = ("detector", "served in real time", f"x vs {BASELINE}", "by CPU time (median)", "x (CPU time)")
    for column in (*columns, "MiB per camera (+ process)"):
        table.add_column(column, justify="right")
    for model in chosen:
        base, mine = by_cpu[BASELINE], by_cpu[model]
        unconfirmed = not args.fixed and searches[model].confirmed is None
        mem = memory[model]
        table.add_row(
            model,
            f"{served[model]}" + (f" (not confirmed; fell behind at {bounds[model][1]})" if unconfirmed else ""),
            f"{served[model] / served[BASELINE]:.2f}" if served[BASELINE] else "-",
            "-" if mine is None else f"{mine:.1f}",
            f"{mine / base:.2f}" if base and mine else "-",
            "-" if mem is None else f"{mem[0]:.0f} (+{mem[1]:.0f})",
        )
    out_console.print(table)
    if args.json:
        emit_json(
            {
                "machine": machine,
                "served": served,
                "bounds": bounds,
                "peak_mib_per_camera": memory,
                "by_cpu_time": by_cpu,
                "stages": args.stages,
                "threads": args.threads or None,
                "runs": runs,
            }
        )


if __name__ == "__main__":
    main()
