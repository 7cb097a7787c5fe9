"""`vigil analyze` end to end on the bundled real clips: the CLI, the store, the media."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import av
import cv2
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]  # the annotated video is redacted frame by frame


def vigil(*args: str, env: dict[str, str], timeout_s: float = 600) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in a subprocess, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "vigil.cli.main", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout_s,
        check=False,
    )


def cli_env(data_dir: Path, models_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(VIGIL_DATA_DIR=str(data_dir), VIGIL_MODELS_DIR=str(models_dir), COLUMNS="120")
    return env


class AnalyzedClip:
    def __init__(self, data_dir: Path, out: Path, result: subprocess.CompletedProcess[str]) -> None:
        self.data_dir = data_dir
        self.out = out
        self.result = result
        self.summary = json.loads(result.stdout.strip().splitlines()[-1])

    def rows(self, sql: str) -> list[tuple[object, ...]]:
        with sqlite3.connect(self.data_dir / "vigil.db") as db:
            return db.execute(sql).fetchall()


@pytest.fixture(scope="module")
def people_run(tmp_path_factory: pytest.TempPathFactory, people_clip: Path, installed_models_dir: Path) -> AnalyzedClip:
    data_dir = tmp_path_factory.mktemp("people")
    out = data_dir / "annotated.mp4"
    result = vigil(
        "analyze", str(people_clip), "--out", str(out), "--json", env=cli_env(data_dir, installed_models_dir)
    )
    assert result.returncode == 0, result.stderr
    return AnalyzedClip(data_dir, out, result)


def test_summary_json_has_the_documented_fields(people_run: AnalyzedClip) -> None:
    s = people_run.summary
    for key in ("frames_decoded", "frames_analysed", "analysed_fps", "tracks", "events"):
        assert key in s, key
    # samples/people.mp4 is 40.1 s at 10 fps: every frame is decoded, and sampling at the
    # default 5 fps (minus still frames skipped by the motion gate) analyses at most half.
    assert s["frames_decoded"] == 401
    assert 40 <= s["frames_analysed"] <= 201
    assert s["frames_dropped"] == 0  # a recording is never dropped, only a live camera
    assert s["analysed_fps"] > 0


def test_people_clip_yields_a_few_person_tracks_and_no_vehicles(people_run: AnalyzedClip) -> None:
    # The first 40 s show two people walking in one after the other (checked by eye);
    # a tracker that fragments tracks would report many more.
    tracks = people_run.summary["tracks"]
    assert 2 <= tracks.get("person", 0) <= 4, tracks
    assert set(tracks) == {"person"}, tracks


def test_every_event_is_stored_once_and_every_track_ends(people_run: AnalyzedClip) -> None:
    s = people_run.summary
    (n_events,) = people_run.rows("SELECT count(*) FROM events")[0]
    assert n_events == s["events"] == s["events_published"]
    started = people_run.rows("SELECT track_id FROM events WHERE type = 'track.started'")
    ended = people_run.rows("SELECT track_id FROM events WHERE type = 'track.ended'")
    assert sorted(started) == sorted(ended)  # nothing left dangling at the end of the recording
    assert len(started) == sum(s["tracks"].values())
    (open_tracks,) = people_run.rows("SELECT count(*) FROM tracks WHERE NOT ended")[0]
    assert open_tracks == 0


def test_each_ended_track_has_a_readable_snapshot_on_disk(people_run: AnalyzedClip) -> None:
    snapshots = [r[0] for r in people_run.rows("SELECT snapshot FROM tracks")]
    assert snapshots
    for rel in snapshots:
        assert isinstance(rel, str)
        path = people_run.data_dir / "media" / rel
        image = cv2.imread(str(path))
        assert image is not None, path
        assert image.shape[0] > 40 and image.shape[1] > 20  # a person crop, not a sliver


def test_annotated_video_has_one_frame_per_analysed_frame(people_run: AnalyzedClip) -> None:
    assert people_run.summary["annotated"] == str(people_run.out)
    with av.open(str(people_run.out)) as container:
        frames = sum(1 for _ in container.decode(video=0))
        stream = container.streams.video[0]
        assert (stream.width, stream.height) == (768, 432)
    assert frames == people_run.summary["frames_analysed"]
    assert not list(people_run.out.parent.glob(".*partial*"))


def test_human_summary_names_people_and_vehicles(tmp_path: Path, cars_clip: Path, installed_models_dir: Path) -> None:
    result = vigil("analyze", str(cars_clip), env=cli_env(tmp_path, installed_models_dir))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "frames decoded" in out and "377" in out  # cars.mp4 holds 377 frames
    # The clip looks straight down on a car park: YOLOv4-tiny calls the car a car, YOLOX-Nano (the
    # default) a bus (tests/golden/tracks.json); either way it is summarised as a vehicle.
    assert "vehicles" in out and ("car:" in out or "bus:" in out)
    assert "events stored" in out
