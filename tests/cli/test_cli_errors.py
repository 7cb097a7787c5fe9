"""Bad input gets one clear line, a non-zero exit, and leaves nothing half-written."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest


def run_vigil(args: list[str], data_dir: Path, models_dir: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, VIGIL_DATA_DIR=str(data_dir), VIGIL_MODELS_DIR=str(models_dir))
    return subprocess.run(
        [sys.executable, "-m", "vigil.cli.main", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The error as the user sees it: exactly one non-empty stderr line, no traceback."""
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert "Traceback" not in result.stderr, result.stderr
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    return lines[0]


def events_in(data_dir: Path) -> int:
    db = data_dir / "vigil.db"
    if not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])


def _not_video(tmp: Path, clip: Path) -> Path:
    path = tmp / "notes.mp4"
    path.write_text("this is a shopping list, not a video\n")
    return path


def _truncated(tmp: Path, clip: Path) -> Path:
    path = tmp / "truncated.mp4"
    data = clip.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    return path


def _missing(tmp: Path, clip: Path) -> Path:
    return tmp / "nowhere.mp4"


def _empty(tmp: Path, clip: Path) -> Path:
    path = tmp / "empty.mp4"
    path.write_bytes(b"")
    return path


@pytest.mark.parametrize(
    ("make_input", "expected"),
    [
        (_not_video, "notes.mp4"),
        (_truncated, "truncated.mp4"),
        (_missing, "nowhere.mp4"),
        (_empty, "empty.mp4"),
    ],
)
def test_unreadable_recordings_fail_with_one_line(
    tmp_path: Path,
    people_clip: Path,
    installed_models_dir: Path,
    make_input: Callable[[Path, Path], Path],
    expected: str,
) -> None:
    video = make_input(tmp_path, people_clip)
    data_dir = tmp_path / "data"
    result = run_vigil(["analyze", str(video), "--json"], data_dir, installed_models_dir)
    assert result.returncode != 0
    line = one_error_line(result) if result.stderr.strip().startswith("error:") else result.stderr
    assert expected in line
    # A truncated file may yield events for the frames before the damage, but then every
    # track it started must also be ended: no half-written track.
    if events_in(data_dir):
        with sqlite3.connect(data_dir / "vigil.db") as db:
            (open_tracks,) = db.execute("SELECT count(*) FROM tracks WHERE NOT ended").fetchone()
        assert open_tracks == 0


def test_missing_models_name_the_install_command(tmp_path: Path, people_clip: Path) -> None:
    result = run_vigil(["analyze", str(people_clip)], tmp_path / "data", tmp_path / "no-models")
    assert result.returncode == 1
    line = one_error_line(result)
    # The first missing model met at start-up is named (YuNet, which blurs faces, comes first).
    assert "is not installed" in line and "vigil models install" in line
    assert events_in(tmp_path / "data") == 0


def test_unwritable_data_dir_is_refused_before_any_work(
    tmp_path: Path, people_clip: Path, installed_models_dir: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    # Root ignores permission bits, but nobody can create a directory below a regular file.
    result = run_vigil(["analyze", str(people_clip)], blocker / "data", installed_models_dir)
    assert result.returncode == 1
    line = one_error_line(result)
    assert "not writable" in line and str(blocker) in line


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        ("cameras:\n  - id: a\n    url: x.mp4\n    fps: 5\n", "unknown key 'cameras[0].fps'"),
        (
            "cameras:\n  - id: a\n    url: x.mp4\n    analysis_fps: fast\n",
            "cameras[0].analysis_fps: got 'fast'",
        ),
        ("cameras:\n  - id: Front Door\n    url: x.mp4\n", "cameras[0].id"),
        ("cameras:\n  - id: a\n    url: rtsp://h/x\n    rtsp_transport: sctp\n", "expected 'tcp' or 'udp'"),
        ("detector:\n  classes: [persn]\n", "unknown class 'persn'"),
        ("cameras: [\n", "YAML syntax error at line"),
        ("cameras: []\n", "no enabled camera"),
    ],
)
def test_bad_configs_name_the_key(tmp_path: Path, installed_models_dir: Path, yaml_text: str, expected: str) -> None:
    config = tmp_path / "cameras.yaml"
    config.write_text(yaml_text)
    result = run_vigil(["run", "--config", str(config)], tmp_path / "data", installed_models_dir)
    assert result.returncode == 1
    line = one_error_line(result)
    assert expected in line, line
    assert str(config) in line


def test_models_verify_on_an_empty_dir_says_what_to_run(tmp_path: Path) -> None:
    result = run_vigil(["models", "verify"], tmp_path / "data", tmp_path / "models")
    assert result.returncode == 1
    assert "missing" in result.stdout
    assert "vigil models install" in result.stdout


def test_status_before_any_run_says_so(tmp_path: Path, installed_models_dir: Path) -> None:
    result = run_vigil(["status"], tmp_path / "data", installed_models_dir)
    assert result.returncode == 0, result.stderr
    assert "no camera has reported yet" in result.stdout


@pytest.mark.parametrize(
    ("localiser", "expected"),
    [
        ("yolo", "unknown localiser 'yolo'; valid: ['morphology', 'platedet']"),
        ("platedet", "model 'platedet' is not installed in"),
    ],
)
def test_plates_eval_with_a_bad_or_uninstalled_localiser(tmp_path: Path, localiser: str, expected: str) -> None:
    # A well-formed labelled folder: the input is checked before any model, so only the
    # localiser can be what is wrong here.
    folder = tmp_path / "scenes"
    folder.mkdir()
    (folder / "car1.txt").write_text("car1.png\t10\t20\t30\t15\tAB12CDE\n")
    cv2.imwrite(str(folder / "car1.png"), np.zeros((60, 80, 3), np.uint8))
    result = run_vigil(["plates", "eval", str(folder), "--localiser", localiser], tmp_path / "data", tmp_path / "m")
    assert result.returncode != 0
    line = one_error_line(result)
    assert expected in line
    if localiser == "platedet":
        assert line.endswith("run: vigil models install platedet")


def test_plates_eval_on_an_unreadable_image_is_exactly_one_line_on_stderr(tmp_path: Path) -> None:
    folder = tmp_path / "scenes"
    folder.mkdir()
    (folder / "car1.txt").write_text("car1.jpg\t10\t20\t30\t15\tAB12CDE\n")
    (folder / "car1.jpg").write_text("not a jpeg")
    result = run_vigil(["plates", "eval", str(folder), "--json"], tmp_path / "data", tmp_path / "m")
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.splitlines() == [f"error: cannot read image {folder / 'car1.jpg'} (missing, or not an image)"]


def test_a_file_name_that_is_not_utf8_is_one_line(tmp_path: Path, installed_models_dir: Path) -> None:
    clip = tmp_path / os.fsdecode(b"clip-\xff.mp4")
    clip.write_bytes(b"not a video")
    result = run_vigil(["analyze", str(clip)], tmp_path / "data", installed_models_dir)
    assert result.returncode == 1
    line = one_error_line(result)
    assert "clip-\\xff.mp4" in line and "not valid UTF-8" in line, line


def test_an_error_message_keeps_its_brackets(tmp_path: Path, installed_models_dir: Path) -> None:
    """A pattern such as [a-z0-9] in a message is text, not terminal markup to strip."""
    config = tmp_path / "vigil.yaml"
    config.write_text('cameras:\n  - id: "Front Door"\n    url: file:///dev/null\n')
    result = run_vigil(["run", "--config", str(config)], tmp_path / "data", installed_models_dir)
    assert result.returncode == 1
    line = one_error_line(result)
    assert "'Front Door'" in line and "[a-z0-9][a-z0-9_-]{0,62}" in line, line


def test_a_date_out_of_range_is_one_line(tmp_path: Path, installed_models_dir: Path) -> None:
    args = ["plates", "search", "AB12CDE", "--since", "0001-01-01T00:00:00+14:00", "--reason", "case 1"]
    result = run_vigil(args, tmp_path / "data", installed_models_dir)
    assert result.returncode == 1
    line = one_error_line(result)
    assert "since" in line and "out of range" in line, line
