"""Hole 6: `vigil run` killed with SIGKILL mid-recording. Before: its tracks stayed open forever,
`vigil status` said "running", and a restart analysed the recording again from the start,
storing every early track twice. Now: `status` shows the camera stale, the restart ends the
orphaned tracks with a reason and resumes after the last stored frame, and a recording
analysed completely is skipped by `vigil run` and refused by `vigil analyze`."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import cv2
import pytest
import yaml

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]


def _vigil(args: list[str], env: dict[str, str], timeout_s: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vigil.cli.main", *args],
        capture_output=True, text=True, env=env, timeout=timeout_s, check=False,
    )  # fmt: skip


def _rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(db, timeout=30) as conn:
        return conn.execute(sql).fetchall()


def _looped(clip: Path, out: Path, times: int) -> Path:
    """``clip`` played ``times`` times over, as one recording (frame by frame: never all in memory)."""
    writer: cv2.VideoWriter | None = None
    for _ in range(times):
        source = cv2.VideoCapture(str(clip))
        while True:
            ok, frame = source.read()
            if not ok:
                break
            if writer is None:
                height, width = frame.shape[:2]
                fourcc = cv2.VideoWriter_fourcc(*"mp4v")
                writer = cv2.VideoWriter(str(out), fourcc, source.get(cv2.CAP_PROP_FPS), (width, height))
            writer.write(frame)
        source.release()
    assert writer is not None, clip
    writer.release()
    return out


def test_kill_9_then_restart(tmp_path: Path, people_clip: Path, installed_models_dir: Path) -> None:
    # The 40 s clip five times over: a fast idle CPU analyses the bundled clip alone in about 2 s,
    # before the run has reported its health, so the kill below would come too late (it did, on a
    # Zen 5 VM). Five plays give any CPU several health reports and live tracks to be killed among.
    people_clip = _looped(people_clip, tmp_path / "people-x5.mp4", 5)
    data = tmp_path / "data"
    db = data / "vigil.db"
    config = tmp_path / "cameras.yaml"
    camera = {"id": "lobby", "url": str(people_clip), "analysis_fps": 5, "motion_gate": {"enabled": False}}
    config.write_text(yaml.safe_dump({"cameras": [camera]}))
    env = dict(os.environ, VIGIL_DATA_DIR=str(data), VIGIL_MODELS_DIR=str(installed_models_dir))

    run = subprocess.Popen(
        [sys.executable, "-m", "vigil.cli.main", "run", "--config", str(config)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )  # fmt: skip
    try:
        # Kill it once it has stored a progress checkpoint and holds a live track.
        deadline = time.monotonic() + 400
        while time.monotonic() < deadline:
            if db.exists():
                try:
                    # A checkpoint past the first frame (the first one may say frame 0).
                    progress = _rows(
                        db,
                        "SELECT count(*) FROM events WHERE type = 'camera.recording'"
                        " AND json_extract(payload, '$.last_frame_index') > 0",
                    )[0][0]
                    live = _rows(db, "SELECT count(*) FROM tracks WHERE ended = 0")[0][0]
                    # ...and has reported its health at least once (every 2 s), so the status
                    # below has a "running" report to show as stale.
                    reported = _rows(db, "SELECT count(*) FROM camera_health WHERE state = 'running'")[0][0]
                except sqlite3.OperationalError:  # tables not created yet
                    progress = live = reported = 0
                if progress and live and reported:
                    break
            assert run.poll() is None, "vigil run ended before it could be killed"
            time.sleep(0.5)
        else:
            pytest.fail("no checkpoint with a live track within 400 s")
        run.send_signal(signal.SIGKILL)
        run.wait(30)
    finally:
        if run.poll() is None:
            run.kill()
    open_before = {r[0] for r in _rows(db, "SELECT track_id FROM tracks WHERE ended = 0")}
    assert open_before

    # The camera's last report said "running"; status shows it stale, not running.
    time.sleep(1.5)  # let the last report age past --stale-after
    status = _vigil(["status", "--config", str(config), "--json", "--stale-after", "1"], env, 120)
    assert status.returncode == 0, status.stderr
    (lobby,) = json.loads(status.stdout)
    assert lobby["state"] == "running" and lobby["stale"] is True
    table = _vigil(["status", "--config", str(config), "--stale-after", "1"], {**env, "COLUMNS": "200"}, 120)
    assert "stale (running)" in table.stdout

    (checkpoint,) = _rows(
        db, "SELECT payload FROM events WHERE type = 'camera.recording' ORDER BY occurred_at DESC LIMIT 1"
    )
    resume_after = json.loads(str(checkpoint[0]))["last_frame_index"]

    # Restart: orphans ended with a reason, the recording resumed after the checkpoint.
    again = _vigil(["run", "--config", str(config), "--json"], env)
    assert again.returncode == 0, again.stderr
    assert _rows(db, "SELECT count(*) FROM tracks WHERE ended = 0") == [(0,)]
    reasons = {
        r[0]: json.loads(str(r[1])).get("end_reason")
        for r in _rows(db, "SELECT track_id, payload FROM events WHERE type = 'track.ended'")
    }
    for track_id in open_before:
        assert reasons[track_id] and reasons[track_id].startswith("orphaned"), reasons[track_id]
    summary = json.loads(again.stdout.strip().splitlines()[-1])
    # Resumed, not restarted: the frames up to the checkpoint are not analysed again.
    clip = cv2.VideoCapture(str(people_clip))
    source_fps, source_frames = clip.get(cv2.CAP_PROP_FPS), clip.get(cv2.CAP_PROP_FRAME_COUNT)
    clip.release()
    whole_clip = source_frames / source_fps * 5  # analysed frames of the whole clip at 5 fps
    skipped = resume_after / source_fps * 5  # those before the checkpoint
    assert resume_after > 0 and summary["frames_analysed"] <= whole_clip - skipped + 2, (summary, whole_clip, skipped)
    # No track is stored twice: the resumed run starts tracks only after the checkpoint's frame.
    run_ids = {t.rsplit("-", 1)[0] for (t,) in _rows(db, "SELECT track_id FROM tracks")}
    assert len(run_ids) == 2
    resumed = [
        json.loads(str(p))["frame_index"]
        for (t, p) in _rows(db, "SELECT track_id, payload FROM events WHERE type = 'track.started'")
        if t.rsplit("-", 1)[0] not in {o.rsplit("-", 1)[0] for o in open_before}
    ]
    assert resumed and min(resumed) > resume_after, (resume_after, resumed)
    final = json.loads(_rows(db, "SELECT payload FROM events WHERE type = 'camera.recording' "
                                 "ORDER BY occurred_at DESC LIMIT 1")[0][0])  # fmt: skip
    assert final["finished"] is True

    # Analysed completely: `vigil run` skips it, `vigil analyze` refuses it in one line.
    third = _vigil(["run", "--config", str(config), "--json"], env)
    assert third.returncode == 0 and json.loads(third.stdout.strip().splitlines()[-1])["frames_analysed"] == 0
    first = _vigil(["analyze", str(people_clip), "--config", str(config), "--analysis-fps", "0.5", "--json"], env)
    assert first.returncode == 0, first.stderr
    refused = _vigil(["analyze", str(people_clip), "--config", str(config)], env)
    assert refused.returncode == 1
    lines = [line for line in refused.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "analysed completely" in lines[0] and "--again" in lines[0], refused.stderr
