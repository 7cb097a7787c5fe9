"""`vigil run` on several real cameras at once: RTSP over TCP and UDP, HTTP, a file and
a broken camera; SIGTERM shuts it down with nothing lost."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = [pytest.mark.slow, pytest.mark.rtsp]


def health(db_path: Path) -> dict[str, dict[str, Any]]:
    if not db_path.exists():
        return {}
    try:
        with sqlite3.connect(db_path) as db:
            db.row_factory = sqlite3.Row
            return {r["camera_id"]: dict(r) for r in db.execute("SELECT * FROM camera_health")}
    except sqlite3.OperationalError:  # the schema is still being created
        return {}


def wait_for(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def test_run_several_cameras_then_sigterm_loses_nothing(
    tmp_path: Path,
    people_clip: Path,
    installed_models_dir: Path,
    rtsp_server_factory: Callable[..., Any],
    http_clip_url: str,
    unused_port: int,
) -> None:
    tcp = rtsp_server_factory(loop=True)
    udp = rtsp_server_factory(loop=True)
    live = {"analysis_fps": 2, "open_timeout_s": 5, "read_timeout_s": 5}
    config = {
        "cameras": [
            {"id": "file", "url": str(people_clip), "analysis_fps": 2},
            {"id": "rtsp-tcp", "url": tcp.url, "rtsp_transport": "tcp", **live},
            {"id": "rtsp-udp", "url": udp.url, "rtsp_transport": "udp", **live},
            {"id": "http", "url": http_clip_url, **live},
            {
                "id": "broken",
                "url": f"rtsp://127.0.0.1:{unused_port}/cam",
                "open_timeout_s": 2,
                "reconnect_initial_s": 0.2,
                "reconnect_max_s": 1,
            },
        ]
    }
    config_path = tmp_path / "cameras.yaml"
    config_path.write_text(yaml.safe_dump(config))
    data_dir = tmp_path / "data"
    env = dict(os.environ, VIGIL_DATA_DIR=str(data_dir), VIGIL_MODELS_DIR=str(installed_models_dir))
    proc = subprocess.Popen(
        [sys.executable, "-m", "vigil.cli.main", "run", "--config", str(config_path), "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    db_path = data_dir / "vigil.db"
    try:

        def cameras_working() -> bool:
            h = health(db_path)
            good = all(h.get(c, {}).get("frames_analysed", 0) >= 3 for c in ("file", "rtsp-tcp", "rtsp-udp", "http"))
            return good and h.get("broken", {}).get("reconnects", 0) >= 2

        wait_for(cameras_working, 120, "every good camera to analyse frames while the broken one retries")
        assert proc.poll() is None, "the run ended by itself"
        # While it runs, `vigil status` says what each camera uses of the box and what more fits.
        status = subprocess.run(
            [sys.executable, "-m", "vigil.cli.main", "status", "--config", str(config_path)],
            capture_output=True, text=True, env={**env, "COLUMNS": "220"}, timeout=60, check=False,
        )  # fmt: skip
        assert status.returncode == 0, status.stderr
        use = re.search(r"(\d) running cameras? use (\d+)% of the box's CPUs; about (\d+) more", status.stdout)
        assert use is not None, status.stdout
        # The broken camera is never running; a live one may be between reconnects at that moment.
        assert 1 <= int(use[1]) <= 4 and 0 < int(use[2]) <= 100, status.stdout
        shares = {c: h["cpu_share"] for c, h in health(db_path).items()}
        assert all(0 < shares[c] <= 1 for c in ("rtsp-tcp", "rtsp-udp", "http")), shares
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, stderr
    summary = json.loads(stdout.strip().splitlines()[-1])
    assert "SIGTERM" in stderr

    per_camera = {c["camera_id"]: c for c in summary["per_camera"]}
    assert set(per_camera) == {"file", "rtsp-tcp", "rtsp-udp", "http", "broken"}
    for cam in ("file", "rtsp-tcp", "rtsp-udp", "http"):
        assert per_camera[cam]["frames_analysed"] > 0, per_camera[cam]
        assert 0 < per_camera[cam]["cpu_share"] < 1, per_camera[cam]
    # The whole run's CPU, shared out by analysis time: the parts add up to the box's share.
    box = summary["box"]
    assert box["cpus"] >= 1 and 0 < box["cpu_share"] <= 1 and box["more_cameras_estimate"] >= 0
    assert sum(c["cpu_share"] for c in per_camera.values()) == pytest.approx(box["cpu_share"], abs=0.01)
    broken = per_camera["broken"]
    assert broken["frames_decoded"] == 0
    assert broken["reconnects"] >= 2
    assert str(unused_port) in (broken["last_error"] or "")

    # Nothing lost: every published event is in the store, and every track that started ended.
    assert summary["events_dead_lettered"] == 0
    with sqlite3.connect(db_path) as db:
        (n_events,) = db.execute("SELECT count(*) FROM events").fetchone()
        started = sorted(db.execute("SELECT track_id FROM events WHERE type = 'track.started'").fetchall())
        ended = sorted(db.execute("SELECT track_id FROM events WHERE type = 'track.ended'").fetchall())
        states = dict(db.execute("SELECT camera_id, state FROM camera_health").fetchall())
    assert n_events == summary["events"] == summary["events_published"]
    assert started == ended
    assert states["broken"] in {"reconnecting", "stopped"}
    assert states["rtsp-tcp"] == "stopped"


def test_status_shows_per_camera_health_after_a_run(
    tmp_path: Path, people_clip: Path, installed_models_dir: Path
) -> None:
    config_path = tmp_path / "cameras.yaml"
    config_path.write_text(yaml.safe_dump({"cameras": [{"id": "lobby", "url": str(people_clip), "analysis_fps": 1}]}))
    env = dict(os.environ, VIGIL_DATA_DIR=str(tmp_path / "data"), VIGIL_MODELS_DIR=str(installed_models_dir))
    run = subprocess.run(
        [sys.executable, "-m", "vigil.cli.main", "run", "--config", str(config_path), "--json"],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    status = subprocess.run(
        [sys.executable, "-m", "vigil.cli.main", "status", "--config", str(config_path), "--json"],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert status.returncode == 0, status.stderr
    (lobby,) = json.loads(status.stdout)
    assert lobby["camera_id"] == "lobby"
    assert lobby["state"] == "finished"
    assert lobby["frames_in"] == 401
    assert 0 < lobby["frames_analysed"] <= 41  # at 1 analysed fps over a 40 s clip
    assert lobby["reconnects"] == 0 and lobby["last_error"] is None
    table = subprocess.run(
        [sys.executable, "-m", "vigil.cli.main", "status", "--config", str(config_path)],
        capture_output=True, text=True, env={**env, "COLUMNS": "200"}, timeout=60, check=False,
    )  # fmt: skip
    assert "lobby" in table.stdout and "finished" in table.stdout and "401" in table.stdout
