"""Hole 5: the data directory's disk fills up during `vigil run`. Before: the run went on,
dead-lettered every event after three tries (in memory only) and wrote a traceback for each.
Now: it says so in one line, takes no new frames while the disk is full, and loses nothing:
freed in time, everything is stored; stopped while still full, the queued events are spooled in
the room the reserve kept and stored by the next run. A real tmpfs, filled by a real file."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", str(mount)], capture_output=True, check=False
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(disk: Path) -> Path:
    """Write zeros until the disk refuses (ENOSPC), unbuffered, to the last 4 KiB."""
    filler = disk / "filler.bin"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for size in (1 << 20, 4096):
            chunk = b"\0" * size
            try:
                while True:
                    os.write(fd, chunk)
            except OSError:
                pass
    finally:
        os.close(fd)
    return filler


def _wait_for(path: Path, text: str, proc: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text(errors="replace"):
            return
        assert proc.poll() is None, path.read_text(errors="replace")[-2000:]
        time.sleep(0.3)
    pytest.fail(f"{text!r} did not appear in {path} within {timeout_s} s")


def _events(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=30) as conn:
            return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])
    except sqlite3.OperationalError:  # not created yet
        return 0


def test_full_disk_pauses_says_so_once_and_loses_nothing(
    small_disk: Path, tmp_path: Path, people_clip: Path, installed_models_dir: Path
) -> None:
    data = small_disk / "data"
    config = tmp_path / "cameras.yaml"
    # 5 frames/s, not 2: a file is analysed as fast as the machine goes, and at 2 frames/s a fast
    # CPU (a 2-core Xeon with AMX, 2026-12-07) had taken in the whole clip before the disk filled,
    # so the run ended by itself (spooling, exit 0) while the test waited for it to stay paused.
    camera = {"id": "lobby", "url": str(people_clip), "analysis_fps": 5, "motion_gate": {"enabled": False}}
    config.write_text(yaml.safe_dump({"cameras": [camera]}))
    env = dict(os.environ, VIGIL_DATA_DIR=str(data), VIGIL_MODELS_DIR=str(installed_models_dir))
    args = [sys.executable, "-m", "vigil.cli.main", "run", "--config", str(config), "--json"]

    # 1. The disk fills mid-run, then space is freed: everything published is stored.
    err = tmp_path / "run1.err"
    with err.open("wb") as stderr:
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=stderr, env=env)
    _wait_for(err, "analysing 1 camera", proc, 120)
    deadline = time.monotonic() + 300
    while not ((data / "vigil.db").exists() and _events(data / "vigil.db") > 5):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.3)
    filler = _fill(small_disk)
    _wait_for(err, "disk is full", proc, 300)
    time.sleep(3)  # the run stays paused, not failing, while the disk is full
    assert proc.poll() is None
    filler.unlink()
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, err.read_text()[-3000:]
    summary = json.loads(out.decode().strip().splitlines()[-1])
    log = err.read_text()
    assert sum("disk is full" in line for line in log.splitlines()) == 1, log[-3000:]  # one line, not one per event
    assert "Traceback" not in log and "dead-lettered" not in log
    assert summary["events_dead_lettered"] == 0 and summary["events_spooled"] == 0
    assert summary["events"] == summary["events_published"], summary
    assert _events(data / "vigil.db") >= summary["events"]

    # 2. The disk fills again and the run is stopped while it is full: the queued events go to
    # the spool (the reserve's room), and the next run stores them.
    before = _events(data / "vigil.db")
    config2 = tmp_path / "gate.yaml"
    # The people clip again under another camera id, at 5 frames/s: long enough that the run is
    # still paused on the full disk when it is stopped (the short cars clip could end by itself
    # first on a fast machine, and the SIGTERM then met an interpreter already shutting down).
    config2.write_text(yaml.safe_dump({"cameras": [{**camera, "id": "gate"}]}))
    args = [sys.executable, "-m", "vigil.cli.main", "run", "--config", str(config2), "--json"]
    err2 = tmp_path / "run2.err"
    with err2.open("wb") as stderr:
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=stderr, env=env)
    _wait_for(err2, "analysing 1 camera", proc, 120)
    time.sleep(2)
    filler = _fill(small_disk)
    _wait_for(err2, "disk is full", proc, 300)
    assert proc.poll() is None, "the run ended by itself before it could be stopped on a full disk"
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, err2.read_text()[-3000:]
    summary2 = json.loads(out.decode().strip().splitlines()[-1])
    assert summary2["events_spooled"] > 0, summary2
    assert "Traceback" not in err2.read_text()
    assert list((data / "spool").glob("pending-*.jsonl"))
    filler.unlink()
    third = subprocess.run(args, capture_output=True, text=True, env=env, timeout=600, check=False)
    assert third.returncode == 0, third.stderr[-3000:]
    assert "events spooled by an earlier run" in third.stderr
    assert not list((data / "spool").glob("pending-*.jsonl"))
    assert _events(data / "vigil.db") >= before + summary2["events"] + summary2["events_spooled"]
    with sqlite3.connect(data / "vigil.db") as conn:
        open_tracks = conn.execute("SELECT count(*) FROM tracks WHERE ended = 0").fetchone()[0]
    assert open_tracks == 0
