"""Live cameras one box serves in real time, today's default detector against the new one.

Each camera is a real RTSP stream on loopback (``tests/support/rtsp_server.py``: GStreamer,
H.264 passed through, paced at the clip's frame rate with ``clocksync``, looped), alternating
between ``samples/people.mp4`` and the Intel one-by-one clip. ``vigil run`` analyses N cameras
at ``analysis_fps`` (default 5) with the default config otherwise (motion gate on; faces, plates
and crowd stages off unless ``--stages``), then gets SIGTERM. Only the ``--seconds`` after every
camera has analysed its first frame count (start-up is left out): from the ``camera_health``
counters, frames analysed and frames dropped because the analysis was busy. N grows from
``--start`` until more than 1% of the frames due for analysis are dropped (or a camera analysed
nothing); the last N that kept up is the figure. Both detectors are measured in the same run,
alternating at each N, so that the neighbours' load hits both alike.

A second figure, for machines Vigil does not have to itself (the team's shared 2-core box, where
at load 10 no detector keeps even one camera in real time under ``nice``): cameras by CPU time,
the cameras served (share of the due frames analysed) per share of the CPUs Vigil itself used
(``camera_health.cpu_share`` summed, the last 10 s of the window; ``vigil.workers.usage``). It is
the straight-line estimate ``vigil status`` gives, and compares detectors on the same CPU; it
ignores bursts, so the real-time figure on an idle box is the one to plan with.

Run: ``nice -n 10 .venv/bin/python bench/cameras_per_box.py [--seconds 40] [--start 1] [--json]``,
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
from pathlib import Path
from typing import Any

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
}
MODELS = tuple(VARIANTS)
BASELINE = "yolov4-tiny"
MAX_DROPPED = 0.01


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(clip: Path) -> tuple[subprocess.Popen[bytes], str]:
    """One shared, looping, real-time RTSP server for ``clip``; every camera of that clip pulls it."""
    port = free_port()
    args = ["/usr/bin/python3", str(SERVER), "--clip", str(clip), "--port", str(port), "--path", "/cam"]
    proc = subprocess.Popen([*args, "--realtime", "--loop", "--shared"], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], 15)
    if not ready or proc.stdout.readline().strip() != b"READY":
        proc.kill()
        raise SystemExit(f"RTSP server for {clip} did not start")
    return proc, f"rtsp://127.0.0.1:{port}/cam"


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
            for i, url in enumerate(urls)
        ]
        detector: dict[str, Any] = VARIANTS[model] | ({"threads": threads} if threads else {})
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
        stdout, stderr = proc.communicate(timeout=120)
        if proc.returncode != 0:
            raise SystemExit(f"vigil run failed ({proc.returncode}): {stderr.strip().splitlines()[-1:]}")
        summary: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
        summary["peak_rss_mib"] = round(peak_kib / 1024, 1)
        summary["window"] = {
            cam: {k: end[cam][k] - start.get(cam, {}).get(k, 0) for k in ("frames_analysed", "frames_dropped")}
            for cam in end
        }
        # Vigil's own CPU share over the last 10 s of the window (camera_health.cpu_share, summed).
        summary["window_cpu_share"] = sum(h.get("cpu_share") or 0.0 for h in end.values())
        return summary


def _peak_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def cpu_estimate(summary: dict[str, Any], cameras: int) -> float | None:
    """Cameras the box would serve if Vigil had all its CPUs: the cameras served (the share of
    due frames analysed) per share of the CPUs Vigil used. On a shared machine, where Vigil does
    not get the CPUs, this is the figure that compares detectors; it ignores bursts."""
    share = summary.get("window_cpu_share") or 0.0
    _, rate = verdict(summary, cameras)
    return round(cameras * (1.0 - rate) / share, 2) if share > 0 else None


def verdict(summary: dict[str, Any], cameras: int) -> tuple[bool, float]:
    """Whether every camera kept up in the measured window (at most 1% of the frames due for
    analysis dropped, each camera analysed some), and the drop rate."""
    window = summary["window"]
    analysed = sum(c["frames_analysed"] for c in window.values())
    dropped = sum(c["frames_dropped"] for c in window.values())
    rate = dropped / (analysed + dropped) if analysed + dropped else 1.0
    every = len(window) == cameras and all(c["frames_analysed"] > 0 for c in window.values())
    return rate <= MAX_DROPPED and every, rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--fps", type=float, default=5.0)
    parser.add_argument("--start", type=int, default=1)
    parser.add_argument("--max-cameras", type=int, default=24)
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
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    chosen = tuple(v.strip() for v in args.variants.split(","))
    unknown = [v for v in chosen if v not in VARIANTS]
    if unknown or BASELINE not in chosen:
        raise SystemExit(f"--variants: unknown {unknown} or no {BASELINE!r}; choose from {list(VARIANTS)}")
    machine = machine_info()
    note(f"CPU: {machine['cpu_model']}, {machine['cpus']} cpus, load {machine['load_avg_at_start']}")
    servers = [start_server(clip) for clip in CLIPS if clip.is_file()]
    runs: list[dict[str, Any]] = []
    served: dict[str, int] = dict.fromkeys(chosen, 0)

    def step(model: str, n: int) -> bool:
        urls = [servers[i % len(servers)][1] for i in range(n)]
        summary = run_cameras(model, urls, args.seconds, args.fps, args.stages, args.threads)
        ok, rate = verdict(summary, n)
        by_cpu = cpu_estimate(summary, n)
        runs.append(
            {
                "model": model,
                "cameras": n,
                "kept_up": ok,
                "dropped_rate": round(rate, 4),
                "window_frames_analysed": sum(c["frames_analysed"] for c in summary["window"].values()),
                "frames_gated": summary["frames_gated"],
                "peak_rss_mib": summary["peak_rss_mib"],
                "box": summary.get("box"),
                "window_cpu_share": round(summary["window_cpu_share"], 4),
                "cameras_by_cpu_time": by_cpu,
                "load_avg": [round(x, 2) for x in load_average()],
            }
        )
        note(
            f"{model}: {n} camera(s): dropped {rate:.1%}, peak {summary['peak_rss_mib']} MiB, "
            f"Vigil CPU {summary['window_cpu_share']:.0%} of {machine['cpus']} (cameras by CPU time {by_cpu}), "
            f"load {load_average()[0]:.1f}, {'kept up' if ok else 'fell behind'}"
        )
        if ok:
            served[model] = max(served[model], n)
        return ok

    try:
        if args.fixed:
            for _ in range(args.repeat):
                for model in chosen:
                    step(model, args.fixed)
        else:
            going = set(chosen)
            n = args.start
            while going and n <= args.max_cameras:
                for model in [m for m in chosen if m in going]:
                    if not step(model, n):
                        going.discard(model)
                n += 1
    finally:
        for proc, _url in servers:
            proc.kill()
            proc.wait()
    by_cpu: dict[str, float | None] = {}
    for model in chosen:
        figures = [r["cameras_by_cpu_time"] for r in runs if r["model"] == model and r["cameras_by_cpu_time"]]
        by_cpu[model] = round(statistics.median(figures), 2) if figures else None
    title = f"cameras at {args.fps:g} analysed fps ({machine['cpu_model']}, {machine['cpus']} cpus)"
    table = Table(title=title + (", stages on" if args.stages else ""))
    for column in ("detector", "served in real time", "by CPU time (median)", f"x vs {BASELINE} (CPU time)"):
        table.add_column(column, justify="right")
    for model in chosen:
        base, mine = by_cpu[BASELINE], by_cpu[model]
        table.add_row(
            model,
            str(served[model]),
            "-" if mine is None else f"{mine:.1f}",
            f"{mine / base:.2f}" if base and mine else "-",
        )
    out_console.print(table)
    if args.json:
        emit_json(
            {
                "machine": machine,
                "served": served,
                "by_cpu_time": by_cpu,
                "stages": args.stages,
                "threads": args.threads or None,
                "runs": runs,
            }
        )


if __name__ == "__main__":
    main()
