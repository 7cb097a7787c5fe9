"""A live camera's snapshots, written by the box's writer thread: a real RTSP server on loopback
streams group photos of real people nobody enrolled (many large faces) to ``vigil run`` as a
subprocess; after SIGTERM every track that started has ended, every ended track's snapshot is
on disk or named nowhere, the run summary accounts for every snapshot, and an outsider's face
search of every stored file finds no face."""

from __future__ import annotations

import json
import os
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
from face_attack import FaceAttack
from test_write_time_redaction import GROUP_PHOTOS, _stills_clip

pytestmark = [pytest.mark.slow, pytest.mark.rtsp, pytest.mark.timeout(900)]


def _analysed(db_path: Path) -> int:
    if not db_path.exists():
        return 0
    try:
        with sqlite3.connect(db_path) as db:
            row = db.execute("SELECT frames_analysed FROM camera_health").fetchone()
    except sqlite3.OperationalError:  # the schema is still being created
        return 0
    return int(row[0]) if row else 0


def test_a_live_cameras_snapshots_are_all_accounted_for_and_show_no_face(
    tmp_path: Path, shared_data: Path, installed_models_dir: Path, rtsp_server_factory: Callable[..., Any]
) -> None:
    clip = _stills_clip([shared_data / p for p in GROUP_PHOTOS], tmp_path / "group.mp4", seconds_each=4.0, fps=5)
    camera = rtsp_server_factory(clip=clip, loop=True)
    config = {
        "cameras": [
            {"id": "hall", "url": camera.url, "rtsp_transport": "tcp", "analysis_fps": 5,
             "open_timeout_s": 5, "read_timeout_s": 5, "motion_gate": {"enabled": False}},
        ],
    }  # fmt: skip
    config_path = tmp_path / "vigil.yaml"
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
        deadline = time.monotonic() + 120
        while _analysed(db_path) < 10 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.5)
        assert _analysed(db_path) >= 10, "the camera did not analyse within 120 s"
        time.sleep(20)  # the photos change every 4 s: tracks end while the camera runs
        proc.send_signal(signal.SIGTERM)  # and the tracks still live end at shutdown
        stdout, stderr = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, stderr[-2000:]
    summary = json.loads(stdout.strip().splitlines()[-1])
    with sqlite3.connect(db_path) as db:
        started = sorted(r[0] for r in db.execute("SELECT track_id FROM events WHERE type = 'track.started'"))
        snapshot = "json_extract(payload, '$.snapshot')"
        ended_rows = db.execute(f"SELECT track_id, {snapshot} FROM events WHERE type = 'track.ended'").fetchall()
        open_tracks = db.execute("SELECT count(*) FROM tracks WHERE NOT ended").fetchone()[0]
        (n_events,) = db.execute("SELECT count(*) FROM events").fetchone()
    # Nothing lost: every track that started ended once, and every event published was stored.
    assert started and sorted(t for t, _ in ended_rows) == started and open_tracks == 0
    assert n_events == summary["events"] == summary["events_published"]
    named = [s for _, s in ended_rows if s is not None]
    files = sorted(p.relative_to(data_dir / "media").as_posix() for p in (data_dir / "media").rglob("*.jpg"))
    # Every snapshot named is on disk, every one on disk is named, and the writer counted them all.
    assert sorted(named) == files and files, (named, files)
    snaps = summary["snapshots"]
    assert snaps["written"] == len(files) and snaps["failed"] == 0
    assert snaps["written"] + sum(snaps["skipped"].values()) == len(ended_rows), snaps
    attack = FaceAttack(installed_models_dir / "yunet" / "face_detection_yunet_2023mar_int8bq.onnx")
    n_files, found = attack.scan_tree(data_dir / "media")
    assert n_files == len(files)
    print(f"{len(started)} tracks, {len(files)} snapshots, skipped {snaps['skipped']}")
    assert found == [], "\n".join(f"{f.path}: {f.detector} {f.box} {f.score:.2f}" for f in found[:20])
