"""The live view's rules without a browser: a viewer's frame has the face blurred and the rest
of the scene as it was, a supervisor's is clear, an out-of-scope camera is refused and the
refusal recorded, and a watch is two records (start, end after the idle time), not one per frame."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from vigil.config import VigilConfig
from vigil.config.redaction import RedactionConfig
from vigil.core.clock import utcnow
from vigil.core.detections import Detections
from vigil.core.errors import AccessDeniedError
from vigil.core.frame import Frame
from vigil.faces import YuNetDetector
from vigil.governance.redactor import search_scales
from vigil.governance.roles import Principal
from vigil.models.install import require as require_model
from vigil.services.live import LiveView, live_redactor, person_heads, served_width, shrink
from vigil.store import Store
from vigil.workers.live_frames import LiveFrames
from vigil.workers.pipeline import FrameResult

REPO = Path(__file__).resolve().parents[2]
VIEWER = Principal("u1", "door-viewer", "viewer", frozenset({"door"}))
SUPERVISOR = Principal("u2", "supervisor-1", "supervisor", None)
VIEWER_ALL = Principal("u3", "viewer-1", "viewer", None)
FACE = (620, 53, 683, 132)  # where the portrait's face lands in the scene below


def _scene() -> np.ndarray:
    video = cv2.VideoCapture(str(REPO / "samples" / "people.mp4"))
    video.set(cv2.CAP_PROP_POS_FRAMES, 60)
    ok, scene = video.read()
    video.release()
    assert ok
    portrait = cv2.imread(str(REPO / "samples" / "faces" / "astronaut.jpg"))
    head = cv2.resize(portrait[30:210, 150:300], None, fx=0.7, fy=0.7)
    scene[30 : 30 + head.shape[0], 600 : 600 + head.shape[1]] = head
    return scene


def _sharpness(image: np.ndarray, box: tuple[int, int, int, int]) -> float:
    x1, y1, x2, y2 = box
    return float(cv2.Laplacian(cv2.cvtColor(image[y1:y2, x1:x2], cv2.COLOR_BGR2GRAY), cv2.CV_64F).var())


@pytest.fixture
def view(tmp_path: Path, installed_models_dir: Path) -> Iterator[tuple[LiveView, Store]]:
    cfg = VigilConfig(data_dir=tmp_path / "data", models_dir=installed_models_dir)
    frames = LiveFrames()
    nobody = Detections()  # no person tracked: YuNet alone must find the face
    frames.publish(Frame("door", 0, 0.0, utcnow(), _scene()), FrameResult(detections=nobody, tracked=nobody))
    with Store.open(cfg.store_url) as store:
        yield LiveView(store, frames, live_redactor(cfg), idle_s=0.2), store


def test_viewer_frame_blurs_the_face_supervisor_sees_it(view: tuple[LiveView, Store]) -> None:
    live, store = view
    scene = _scene()
    shown = live.frame(VIEWER, "door")
    clear = live.frame(SUPERVISOR, "door")
    assert shown is not None and clear is not None and shown.seq == clear.seq == 1
    blurred = cv2.imdecode(np.frombuffer(shown.jpeg, np.uint8), 1)
    as_is = cv2.imdecode(np.frombuffer(clear.jpeg, np.uint8), 1)
    assert _sharpness(blurred, FACE) < 0.1 * _sharpness(scene, FACE)
    assert _sharpness(as_is, FACE) > 0.7 * _sharpness(scene, FACE)
    rest = (0, 200, 560, 432)  # a part of the scene far from the face
    assert _sharpness(blurred, rest) > 0.7 * _sharpness(scene, rest)
    assert live.frame(VIEWER, "door") is not None  # a second frame: no new record
    watches = store.governance.audit.list(action="live.watch")
    assert sorted((r.actor, r.camera_id, r.detail["redacted"]) for r in watches) == [
        ("door-viewer", "door", True),
        ("supervisor-1", "door", False),
    ]


def test_out_of_scope_camera_is_refused_and_recorded(view: tuple[LiveView, Store]) -> None:
    live, store = view
    with pytest.raises(AccessDeniedError):
        live.frame(VIEWER, "yard")
    (denied,) = store.governance.audit.list(action="access.denied")
    assert (denied.actor, denied.camera_id, denied.detail["asked"]) == ("door-viewer", "yard", "live.watch")
    assert store.governance.audit.list(action="live.watch") == []


def test_a_watch_is_one_record_at_the_start_and_one_at_the_end(view: tuple[LiveView, Store]) -> None:
    live, store = view
    for _ in range(5):
        live.frame(VIEWER, "door")
    assert live.end_idle() == 0  # still being watched
    deadline = time.monotonic() + 5  # then idle: the reaper (every second) records the end
    while not store.governance.audit.list(action="live.watch_end") and time.monotonic() < deadline:
        time.sleep(0.1)
    (start,) = store.governance.audit.list(action="live.watch")
    (end,) = store.governance.audit.list(action="live.watch_end")
    assert (start.actor, start.camera_id, end.actor, end.camera_id) == ("door-viewer", "door", "door-viewer", "door")
    assert end.detail["frames"] == 5 and end.detail["since"] <= end.detail["until"]
    live.close()


def test_person_heads_cover_the_top_of_each_person_only() -> None:
    tracked = Detections(xyxy=[[100, 50, 140, 210], [300, 0, 400, 100]], confidence=[0.9, 0.8], class_id=[0, 2])
    (head,) = person_heads(tracked)  # the car has none
    assert head == (100.0, 42.0, 140.0, 90.0)


def test_a_still_frame_keeps_the_last_analysed_boxes() -> None:
    frames = LiveFrames()
    image = np.zeros((72, 128, 3), np.uint8)
    frames.publish_still(Frame("door", 0, 0.0, utcnow(), image))  # nothing analysed yet: nothing shown
    assert frames.latest("door") is None
    person = Detections(xyxy=[[10, 5, 30, 60]], confidence=[0.9], class_id=[0], tracker_id=[1])
    frames.publish(Frame("door", 1, 0.2, utcnow(), image), FrameResult(detections=person, tracked=person))
    frames.publish_still(Frame("door", 2, 0.4, utcnow(), image.copy()))
    latest = frames.latest("door")
    assert latest is not None and latest.seq == 2 and latest.tracked is person  # its head is still blurred


def test_no_frame_no_watch(view: tuple[LiveView, Store]) -> None:
    live, store = view
    assert live.frame(SUPERVISOR, "yard") is None  # in scope, but no frame from it yet
    assert store.governance.audit.list(action="live.watch") == []


PHOTOS = ("knn/test/obama_and_biden.jpg", "knn/test/kit_with_rose.jpg", "deepface/unlabelled/selfie-many-people.jpg")


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return float(inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter))


@pytest.mark.parametrize("width", [384, None], ids=["grid-tile", "full-frame"])
def test_real_faces_in_a_served_frame_are_blurred_at_any_served_width(
    tmp_path: Path, installed_models_dir: Path, shared_data: Path, width: int | None
) -> None:
    """Real photos of people published as live frames: in the JPEG a viewer gets (shrunk to a
    grid tile, or whole), YuNet at every write-time search scale finds none of the faces it
    finds in the same pixels unredacted, and those pixels changed."""
    cfg = VigilConfig(data_dir=tmp_path / "data", models_dir=installed_models_dir)
    frames = LiveFrames()
    nobody = Detections()  # no person tracked: the live YuNet pass alone must find every face
    for i, name in enumerate(PHOTOS):
        photo = cv2.imread(str(shared_data / "faces" / name))
        frames.publish(Frame(f"cam-{i}", 0, 0.0, utcnow(), photo), FrameResult(detections=nobody, tracked=nobody))
    detector = YuNetDetector(require_model(installed_models_dir, "yunet"), score_threshold=0.6, nms_iou=0.3)
    with Store.open(cfg.store_url) as store:
        live = LiveView(store, frames, live_redactor(cfg))
        for i, name in enumerate(PHOTOS):
            clear = live.frame(SUPERVISOR, f"cam-{i}", width)
            shown = live.frame(VIEWER_ALL, f"cam-{i}", width)
            assert shown is not None and clear is not None
            as_is = cv2.imdecode(np.frombuffer(clear.jpeg, np.uint8), 1)
            served = cv2.imdecode(np.frombuffer(shown.jpeg, np.uint8), 1)
            assert as_is.shape == served.shape and (width is None or as_is.shape[1] == width)
            scales = search_scales(*as_is.shape[:2], RedactionConfig())
            faces = [b for s in scales for b, p in zip(*_found(detector, as_is, s), strict=True) if p >= 0.8]
            assert faces, f"{name}: no face to test against"
            left = [b for s in scales for b in _found(detector, served, s)[0]]
            for face in faces:
                assert not any(_iou(face, b) > 0.3 for b in left), f"{name} at {width}: a face is still found"
                x1, y1, x2, y2 = (max(0, round(float(v))) for v in face)
                diff = np.abs(as_is[y1:y2, x1:x2].astype(np.int16) - served[y1:y2, x1:x2].astype(np.int16))
                assert diff.mean() > 8, f"{name} at {width}: the face's pixels are barely changed"
        live.close()


def _found(detector: YuNetDetector, image: np.ndarray, scale: float) -> tuple[list[np.ndarray], list[float]]:
    got = detector.detect_scaled(image, scale)
    return list(got.boxes), [float(s) for s in got.scores]


def test_served_width_rounds_up_to_a_few_widths_and_never_enlarges() -> None:
    assert [served_width(w, 768) for w in (None, 0, 200, 360, 384, 385, 700, 5000)] == [
        768, 768, 320, 384, 384, 480, 768, 768
    ]  # fmt: skip
    assert served_width(1000, 1920) == 1280 and served_width(3000, 3840) == 3840
    image = np.zeros((432, 768, 3), np.uint8)
    person = Detections(xyxy=[[100, 40, 200, 400]], confidence=[0.9], class_id=[0], tracker_id=[1])
    small, boxes = shrink(image, person, 384)
    assert small.shape == (216, 384, 3) and boxes.xyxy.tolist() == [[50, 20, 100, 200]]
    assert shrink(image, person, 768)[0] is image
