"""The box's snapshot writer (``vigil.workers.snapshots``) attacked with real components: the
deployment's media store and redactor (YuNet, Haar, plates), real photos of people nobody
enrolled, and an outsider's face search (``face_attack``) of each file at the moment its event
is published.

What must hold: an event names a snapshot only once the redacted file is on disk; no event is
lost, whether the writer has room or not (an event without room goes out at once, without a
snapshot, and the skip is counted with its reason); closing writes what was queued; one
camera's failures or flood do not stop the others'; the analysis thread never waits.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
import pytest
from face_attack import FaceAttack
from rich.console import Console

from vigil.cli.render import print_summary
from vigil.config import VigilConfig
from vigil.core.frame import BGRImage
from vigil.events import AnyEvent, BoundingBox, TrackEnded
from vigil.store.media import MediaStore, snapshot_path
from vigil.workers.runner import RunSummary
from vigil.workers.snapshots import PendingSnapshot, SnapshotWriter
from vigil.workers.wiring import open_data_dir

pytestmark = [pytest.mark.timeout(600)]

GROUP = "faces/deepface/unlabelled/selfie-many-people.jpg"


@pytest.fixture(scope="module")
def attack(installed_models_dir: Path) -> FaceAttack:
    return FaceAttack(installed_models_dir / "yunet" / "face_detection_yunet_2023mar_int8bq.onnx")


@pytest.fixture(scope="module")
def crowd(shared_data: Path) -> BGRImage:
    """A group photo of real people (none enrolled), 480 px wide: faces of 20-40 px."""
    image = cv2.imread(str(shared_data / GROUP))
    assert image is not None
    return np.ascontiguousarray(cv2.resize(image, None, fx=480 / image.shape[1], fy=480 / image.shape[1]))


@pytest.fixture
def media(tmp_path: Path, installed_models_dir: Path) -> MediaStore:
    return open_data_dir(VigilConfig(data_dir=tmp_path / "data", models_dir=installed_models_dir))


@pytest.fixture
def writers() -> Iterator[list[SnapshotWriter]]:
    made: list[SnapshotWriter] = []
    yield made
    for w in made:
        w.close(timeout_s=60)


def _job(crop: BGRImage, camera: str = "cam", *, keep: bool = False, rel: str | None = None) -> PendingSnapshot:
    now = datetime.now(UTC)
    event = TrackEnded(
        camera_id=camera,
        occurred_at=now,
        track_id=f"{camera}-t-{time.monotonic_ns()}",
        class_name="person",
        box=BoundingBox(x1=0, y1=0, x2=crop.shape[1], y2=crop.shape[0]),
        confidence=0.9,
        frame_index=1,
        first_seen=now,
        last_seen=now,
        n_observations=3,
        best_confidence=0.9,
    )
    return PendingSnapshot(
        event=event,
        crop=crop,
        rel_path=rel or snapshot_path(camera, event.event_id, now),
        keep_faces="face candidate on track test" if keep else None,
        head=None,
    )


class Published:
    """The bus, as seen by a reader: every event, and what its snapshot file showed the moment
    the event was published (before anything else could change it)."""

    def __init__(self, media: MediaStore, attack: FaceAttack) -> None:
        self._media, self._attack = media, attack
        self.events: list[TrackEnded] = []
        self.faces: dict[str, int] = {}
        self.missing: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, event: AnyEvent) -> None:
        assert isinstance(event, TrackEnded)
        if event.snapshot is not None:
            path = self._media.root / event.snapshot
            if not path.is_file():
                self.missing.append(event.snapshot)
            else:
                image = cv2.imread(str(path))
                self.faces[event.snapshot] = len(self._attack.faces(image, event.snapshot))
        with self._lock:
            self.events.append(event)


def test_an_event_names_its_snapshot_only_once_it_is_written_redacted(
    media: MediaStore, attack: FaceAttack, crowd: BGRImage, writers: list[SnapshotWriter]
) -> None:
    # The search has teeth: it finds the faces in the crop before anything is stored.
    assert len(attack.faces(crowd, "source")) >= 3
    writer = SnapshotWriter(media)
    writers.append(writer)
    bus = Published(media, attack)
    bystander, candidate = _job(crowd), _job(crowd, keep=True)
    assert writer.submit(bystander, bus) and writer.submit(candidate, bus)
    writer.close(timeout_s=120)
    assert {e.event_id for e in bus.events} == {bystander.event.event_id, candidate.event.event_id}
    assert bus.missing == [], "an event named a file that was not there when it was published"
    by_id = {e.event_id: e for e in bus.events}
    bystander_snap, candidate_snap = by_id[bystander.event.event_id].snapshot, by_id[candidate.event.event_id].snapshot
    assert bystander_snap is not None and candidate_snap is not None
    assert bus.faces[bystander_snap] == 0, "a bystander's face is readable in a stored snapshot"
    # A face candidate's snapshot keeps its faces for review: the outsider finds them there.
    assert bus.faces[candidate_snap] >= 3
    # Nothing but the two snapshots was written (no unredacted temporary left beside them).
    files = sorted(p.relative_to(media.root).as_posix() for p in media.root.rglob("*") if p.is_file())
    assert files == sorted([bystander_snap, candidate_snap])


def test_no_event_is_lost_when_the_writer_has_no_room_and_submit_never_waits(
    media: MediaStore, attack: FaceAttack, crowd: BGRImage, writers: list[SnapshotWriter]
) -> None:
    writer = SnapshotWriter(media, max_pending=2)
    writers.append(writer)
    bus = Published(media, attack)
    jobs = [_job(crowd) for _ in range(8)]
    waits = []
    for job in jobs:
        t = time.perf_counter()
        writer.submit(job, bus)
        waits.append(time.perf_counter() - t)
    # Redacting one takes about a second; handing eight over must not (the camera's thread).
    # Without room the event is published on the caller's thread (the face search in this
    # test's bus is not the writer's cost), so only the queued ones are timed.
    at_once = {e.event_id for e in bus.events}
    queued_waits = [w for w, job in zip(waits, jobs, strict=True) if job.event.event_id not in at_once]
    assert queued_waits and max(queued_waits) < 0.05, waits
    writer.close(timeout_s=120)
    ids = [e.event_id for e in bus.events]
    assert sorted(ids) == sorted(j.event.event_id for j in jobs), "an event was lost or published twice"
    with_snapshot = [e for e in bus.events if e.snapshot is not None]
    skipped = sum(writer.skipped.values())
    assert writer.written == len(with_snapshot) and skipped == len(jobs) - len(with_snapshot)
    assert skipped >= 4 and writer.skipped[("cam", "writer busy")] == skipped, writer.skipped
    assert bus.missing == [] and all(n == 0 for n in bus.faces.values()), bus.faces
    # The events without a snapshot name none: no path to a file that will never exist.
    stored = {p.relative_to(media.root).as_posix() for p in media.root.rglob("*.jpg")}
    assert stored == {e.snapshot for e in with_snapshot}


def test_close_writes_every_queued_snapshot_and_a_late_one_goes_out_without(
    media: MediaStore, attack: FaceAttack, crowd: BGRImage, writers: list[SnapshotWriter]
) -> None:
    writer = SnapshotWriter(media)
    bus = Published(media, attack)
    jobs = [_job(crowd) for _ in range(4)]
    for job in jobs:
        assert writer.submit(job, bus)
    writer.close(timeout_s=120)  # the cameras stopped: drain before the bus closes
    assert len(bus.events) == 4 and all(e.snapshot is not None for e in bus.events)
    assert bus.missing == [] and sum(bus.faces.values()) == 0
    # A shutdown that cannot wait: whatever is still queued goes out, without its snapshot.
    hurried = SnapshotWriter(media)
    writers.append(hurried)
    bus2 = Published(media, attack)
    jobs2 = [_job(crowd) for _ in range(4)]
    for job in jobs2:
        hurried.submit(job, bus2)
    hurried.close(timeout_s=0.01)
    deadline = time.monotonic() + 60  # the snapshot in hand when the timeout passed is finished
    while len(bus2.events) < 4 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert sorted(e.event_id for e in bus2.events) == sorted(j.event.event_id for j in jobs2)
    assert hurried.skipped[("cam", "not written by shutdown")] >= 2
    assert bus2.missing == [] and sum(bus2.faces.values()) == 0
    # After close, a camera still ending tracks gets its events out at once, without snapshots.
    late = _job(crowd)
    assert not hurried.submit(late, bus2)
    assert bus2.events[-1].event_id == late.event.event_id and bus2.events[-1].snapshot is None


def test_one_cameras_flood_does_not_take_the_others_room(
    media: MediaStore, attack: FaceAttack, crowd: BGRImage, writers: list[SnapshotWriter]
) -> None:
    writer = SnapshotWriter(media, per_camera=2)
    writers.append(writer)
    bus = Published(media, attack)
    flood = [_job(crowd, "busy") for _ in range(6)]  # every track of one camera ends at once
    queued = [writer.submit(job, bus) for job in flood]
    good = [_job(crowd, "quiet") for _ in range(2)]
    assert all(writer.submit(job, bus) for job in good), "camera quiet was refused room camera busy took"
    writer.close(timeout_s=120)
    assert queued.count(True) == 2 and writer.skipped[("busy", "camera's share full")] == 4
    assert sorted(e.event_id for e in bus.events) == sorted(j.event.event_id for j in flood + good)
    assert all(e.snapshot is not None for e in bus.events if e.camera_id == "quiet")
    assert bus.missing == [] and sum(bus.faces.values()) == 0


def test_one_cameras_failures_do_not_stop_the_writer(
    media: MediaStore, attack: FaceAttack, crowd: BGRImage, writers: list[SnapshotWriter]
) -> None:
    writer = SnapshotWriter(media)
    writers.append(writer)
    bus = Published(media, attack)

    def broken_bus(event: AnyEvent) -> None:
        raise RuntimeError("camera bad's publisher is gone")

    small = np.ascontiguousarray(crowd[:120, :120])
    refused = _job(small, "bad", rel="../outside.jpg")  # a path the media store refuses
    writer.submit(refused, bus)
    writer.submit(_job(small, "bad"), broken_bus)
    good = _job(crowd, "good")
    writer.submit(good, bus)
    writer.close(timeout_s=120)
    assert not (media.root.parent / "outside.jpg").exists()
    assert writer.failed["bad"] == 1
    by_id = {e.event_id: e for e in bus.events}
    # The refused write's event still goes out, naming no file; the other camera's is written.
    assert by_id[refused.event.event_id].snapshot is None
    assert by_id[good.event.event_id].snapshot is not None
    assert bus.missing == [] and sum(bus.faces.values()) == 0


def test_the_run_summary_tells_the_operator_which_snapshots_were_not_written() -> None:
    summary = RunSummary(
        cameras=[],
        wall_s=1.0,
        events_published=9,
        events_stored=9,
        events_dead_lettered=0,
        store_url="sqlite://",
        snapshots={"written": 5, "failed": 1, "skipped": {"writer busy": 3}, "write_s": 4.2},
    )
    console = Console(width=160, record=True)
    print_summary(console, summary)
    assert "5 written, 1 failed, not written: 3 writer busy" in console.export_text()
    assert summary.to_json_dict()["snapshots"]["skipped"] == {"writer busy": 3}
