"""Where a live camera's analysis thread spends its wall time when frames are dropped.

``vigil run`` on N live RTSP cameras (the servers of ``bench/cameras_per_box.py``: each camera
its own stream, paced at the clip's rate, all started together), in a child process whose
analysis threads are timed phase by phase: detection, the track-end snapshot (redaction and
writing, ``CameraPipeline._save_snapshot``), the rest of ``CameraPipeline.process`` (tracking,
stages, events) and the time between frames (waiting for the capture, publishing). Each frame
the capture drops because the camera's queue was full is attributed to what that camera's
analysis thread did in the ``cameras[].queue_s`` before the drop (the queue fills only when the
thread was busy for about that long).

Run: ``OMP_NUM_THREADS=1 .venv/bin/python bench/stall_trace.py --model yolox-nano --cameras 6
--seconds 40 [--json]`` (needs ``/usr/bin/python3`` with GStreamer's RTSP server).
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml

from benchlib import emit_json, load_average, machine_info, models_dir, note
from cameras_per_box import CLIPS, VARIANTS, health, start_server

Interval = tuple[float, float, str, float]
"""Start and end (monotonic s), phase, and the thread's CPU seconds in it."""


def _child(config: str, trace_path: str, snapshots_off: bool) -> None:
    """Install the timers, then run ``vigil run`` in this process; write the trace at exit."""
    from vigil.camera import capture as capture_mod
    from vigil.cli.main import main
    from vigil.workers import pipeline as pipeline_mod

    intervals: dict[str, list[Interval]] = defaultdict(list)
    drops: dict[str, list[float]] = defaultdict(list)
    lock = threading.Lock()
    cam_of_thread: dict[int, str] = {}

    def record(cam: str, start: float, end: float, phase: str, cpu: float = 0.0) -> None:
        with lock:
            intervals[cam].append((start, end, phase, cpu))

    pipe = pipeline_mod.CameraPipeline
    # Before the snapshot writer (issue 23) the analysis thread wrote in ``_save_snapshot``;
    # since, it writes only without a writer (``_write_now``), and the writer thread's time is
    # traced as "writer" (not the analysis threads' time).
    save_name = "_save_snapshot" if hasattr(pipe, "_save_snapshot") else "_write_now"
    orig_process, orig_save = pipe.process, getattr(pipe, save_name)

    def process(self: Any, frame: Any) -> Any:
        cam_of_thread[threading.get_ident()] = self.camera_id
        if not getattr(self, "_timed", False):
            det = self._detector
            self._timed = True

            class Timed:
                def __getattr__(self, name: str) -> Any:
                    return getattr(det, name)

                def detect(self, image: Any) -> Any:
                    t = time.monotonic()
                    try:
                        return det.detect(image)
                    finally:
                        record(cam_of_thread[threading.get_ident()], t, time.monotonic(), "detect")

                def detect_regions(self, image: Any, crops: Any) -> Any:
                    t = time.monotonic()
                    try:
                        return det.detect_regions(image, crops)
                    finally:
                        record(cam_of_thread[threading.get_ident()], t, time.monotonic(), "detect")

            self._detector = Timed()
        t = time.monotonic()
        try:
            return orig_process(self, frame)
        finally:
            record(self.camera_id, t, time.monotonic(), "process")

    def save(self: Any, *args: Any) -> Any:
        t, c = time.monotonic(), time.thread_time()
        try:
            if snapshots_off:
                return None if save_name == "_save_snapshot" else args[0].event
            return orig_save(self, *args)
        finally:
            record(self.camera_id, t, time.monotonic(), "snapshot", time.thread_time() - c)

    pipe.process = process  # type: ignore[method-assign]
    setattr(pipe, save_name, save)
    try:
        from vigil.workers import snapshots as snapshots_mod

        orig_write = snapshots_mod.write_snapshot

        def write(media: Any, job: Any) -> Any:
            t, c = time.monotonic(), time.thread_time()
            try:
                return orig_write(media, job)
            finally:
                record("(writer)", t, time.monotonic(), "writer", time.thread_time() - c)

        snapshots_mod.write_snapshot = write
    except ImportError:  # before the writer
        pass
    cap = capture_mod.CameraCapture
    orig_dropped = cap._put

    def put(self: Any, frame: Any) -> bool:
        before = self.health.snapshot().frames_dropped
        ok: bool = orig_dropped(self, frame)
        if self.health.snapshot().frames_dropped > before:
            with lock:
                drops[self.camera_id].append(time.monotonic())
        return ok

    cap._put = put  # type: ignore[method-assign]

    window: dict[str, float] = {}

    def mark_window(_signum: int, _frame: Any) -> None:
        window["end" if "start" in window else "start"] = time.monotonic()

    # The parent signals when every camera analyses and when the window ends: start-up and
    # shutdown (which ends every track at once) are left out of the attribution.
    signal.signal(signal.SIGUSR1, mark_window)

    def dump() -> None:
        window.setdefault("start", 0.0)
        window.setdefault("end", time.monotonic())
        with lock:
            Path(trace_path).write_text(json.dumps({"intervals": intervals, "drops": drops, "window": window}))

    atexit.register(dump)
    sys.argv = ["vigil", "run", "--config", config, "--json"]
    main()


def attribute(trace: dict[str, Any], queue_s: float) -> dict[str, Any]:
    """Per phase: analysis-thread seconds, the longest single interval, and the share of the
    ``queue_s`` before each drop spent in it."""
    totals: dict[str, float] = defaultdict(float)
    longest: dict[str, float] = defaultdict(float)
    before_drops: dict[str, float] = defaultdict(float)
    drops_total = 0
    drops_with_snapshot = 0
    w0, w1 = trace["window"]["start"], trace["window"]["end"]
    cpu: dict[str, float] = defaultdict(float)
    count: dict[str, int] = defaultdict(int)
    for cam, ivs in trace["intervals"].items():
        for s, e, phase, c in ivs:
            if s < w0 or s > w1:
                continue
            totals[phase] += e - s
            cpu[phase] += c
            count[phase] += 1
            longest[phase] = max(longest[phase], e - s)
        for t in trace["drops"].get(cam, []):
            if not w0 <= t <= w1:
                continue
            drops_total += 1
            lo = t - queue_s
            seen = defaultdict(float)
            for s, e, phase, _c in ivs:
                overlap = max(0.0, min(e, t) - max(s, lo))
                seen[phase] += overlap
            # "process" contains detect and snapshot: what is left is tracking, stages, events.
            rest = max(0.0, seen["process"] - seen["detect"] - seen["snapshot"])
            idle = max(0.0, queue_s - seen["process"])
            parts = {"detect": seen["detect"], "snapshot": seen["snapshot"], "other": rest, "between": idle}
            for phase, v in parts.items():
                before_drops[phase] += v
            drops_with_snapshot += seen["snapshot"] > 0
    share = {k: round(v / (drops_total * queue_s), 3) for k, v in before_drops.items()} if drops_total else {}
    totals["other"] = totals["process"] - totals["detect"] - totals["snapshot"]
    return {
        "drops": drops_total,
        "drops_with_a_snapshot_in_the_window": drops_with_snapshot,
        "share_of_window_before_drops": share,
        "thread_seconds": {k: round(v, 2) for k, v in totals.items()},
        "longest_s": {k: round(v, 3) for k, v in longest.items()},
        "snapshot_cpu_s": {k: round(cpu[k], 2) for k in ("snapshot", "writer") if count[k]},
        "count": dict(count),
        "window_s": round(w1 - w0, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--trace", help=argparse.SUPPRESS)
    parser.add_argument("--snapshots-off", action="store_true", help="skip writing snapshots (the counterfactual)")
    parser.add_argument("--model", default="yolox-nano", choices=list(VARIANTS))
    parser.add_argument("--cameras", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--queue-s", type=float, default=2.0)
    parser.add_argument("--stages", action="store_true", help="faces, plates and crowd on (their time is 'other')")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.trace, args.snapshots_off)
        return
    machine = machine_info()
    note(f"CPU: {machine['cpu_model']}, {machine['cpus']} cpus, load {machine['load_avg_at_start']}")
    servers = [start_server(clip) for clip in CLIPS if clip.is_file()]
    try:
        with tempfile.TemporaryDirectory(prefix="vigil-stall-") as tmp:
            cameras = [
                {
                    "id": f"cam{i}",
                    "url": servers[i % len(servers)][1],
                    "analysis_fps": 5,
                    "open_timeout_s": 10,
                    "read_timeout_s": 10,
                    "queue_s": args.queue_s,
                }
                for i in range(args.cameras)
            ]
            variant = {k: v for k, v in VARIANTS[args.model].items() if k != "queue_s"}
            path = Path(tmp) / "cameras.yaml"
            config: dict[str, Any] = {"detector": variant, "cameras": cameras}
            if args.stages:
                config |= {"faces": {"enabled": True}, "plates": {"enabled": True}, "crowd": {"enabled": True}}
            path.write_text(yaml.safe_dump(config))
            trace_path = Path(tmp) / "trace.json"
            env = dict(os.environ, VIGIL_DATA_DIR=str(Path(tmp) / "data"), VIGIL_MODELS_DIR=str(models_dir()))
            cmd = [sys.executable, __file__, "--child", str(path), "--trace", str(trace_path)]
            proc = subprocess.Popen(
                cmd + (["--snapshots-off"] if args.snapshots_off else []),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
            )
            db_path = Path(tmp) / "data" / "vigil.db"
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline and proc.poll() is None:
                now = health(db_path)
                if len(now) == args.cameras and all(h["frames_analysed"] > 0 for h in now.values()):
                    break
                time.sleep(0.5)
            start = health(db_path)
            proc.send_signal(signal.SIGUSR1)
            time.sleep(args.seconds)
            proc.send_signal(signal.SIGUSR1)
            end = health(db_path)
            proc.send_signal(signal.SIGTERM)
            stdout, stderr = proc.communicate(timeout=180)
            if proc.returncode != 0:
                raise SystemExit(f"vigil run failed ({proc.returncode}): {stderr.strip().splitlines()[-3:]}")
            summary = json.loads(stdout.strip().splitlines()[-1])
            trace = json.loads(trace_path.read_text())
    finally:
        for proc_, _url, _fps in servers:
            proc_.kill()
            proc_.wait()
    result = attribute(trace, args.queue_s)
    counters = ("frames_analysed", "frames_dropped")
    window = {k: sum(end[c][k] - start.get(c, {}).get(k, 0) for c in end) for k in counters}
    result |= {
        "window": window,
        "model": args.model,
        "cameras": args.cameras,
        "seconds": args.seconds,
        "snapshots_off": args.snapshots_off,
        "stages": args.stages,
        "run_frames_analysed": summary["frames_analysed"],
        "run_frames_dropped": summary["frames_dropped"],
        "run_snapshots": summary.get("snapshots"),
        "cpu_share": (summary.get("box") or {}).get("cpu_share"),
        "load_avg": [round(x, 2) for x in load_average()],
        "machine": machine,
    }
    note(json.dumps({k: v for k, v in result.items() if k != "machine"}))
    if args.json:
        emit_json(result)


if __name__ == "__main__":
    main()
