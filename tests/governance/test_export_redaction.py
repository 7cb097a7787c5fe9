"""A redacted case export blurs by the same rule the media endpoint serves by: a bystander's
snapshot (blurred by region as it was written) goes as stored; a candidate's track snapshot,
kept clear for review, has its face blurred and the rest of the scene kept."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import cv2
import numpy as np

from vigil.config import VigilConfig
from vigil.core.clock import utcnow
from vigil.events import CandidateRaised, TrackEnded
from vigil.events.models import BoundingBox
from vigil.governance.export import build_case_package
from vigil.governance.redaction import RedactionRegistry
from vigil.governance.redactor import build_redactor
from vigil.store import Store
from vigil.store.audit import AuditEntry
from vigil.store.media import MediaStore, snapshot_path

REPO = Path(__file__).resolve().parents[2]


def _scene_with_face() -> tuple[np.ndarray, tuple[int, int, int, int]]:
    video = cv2.VideoCapture(str(REPO / "samples" / "people.mp4"))
    video.set(cv2.CAP_PROP_POS_FRAMES, 60)
    ok, scene = video.read()
    video.release()
    assert ok
    portrait = cv2.imread(str(REPO / "samples" / "faces" / "astronaut.jpg"))
    head = cv2.resize(portrait[30:210, 150:300], None, fx=0.7, fy=0.7)
    scene[30 : 30 + head.shape[0], 600 : 600 + head.shape[1]] = head
    return scene, (620, 53, 683, 132)


def _track(store: Store, media: MediaStore, track_id: str, image: np.ndarray, keep: str | None) -> str:
    now = utcnow()
    ended = TrackEnded(
        camera_id="cam-a", occurred_at=now, track_id=track_id, class_name="person",
        box=BoundingBox(x1=0, y1=0, x2=10, y2=20), confidence=0.9, frame_index=1, first_seen=now, last_seen=now,
        n_observations=3, best_confidence=0.9,
    )  # fmt: skip
    rel = media.save_jpeg(snapshot_path("cam-a", ended.event_id, now), image, keep_faces=keep)
    store.events.add_many([ended.model_copy(update={"snapshot": rel})])
    return rel


def _sharpness(image: np.ndarray, box: tuple[int, int, int, int]) -> float:
    x1, y1, x2, y2 = box
    return float(cv2.Laplacian(cv2.cvtColor(image[y1:y2, x1:x2], cv2.COLOR_BGR2GRAY), cv2.CV_64F).var())


def test_redacted_export_blurs_faces_by_region(tmp_path: Path, installed_models_dir: Path) -> None:
    cfg = VigilConfig(data_dir=tmp_path / "data", models_dir=installed_models_dir)
    scene, face = _scene_with_face()
    with Store.open(cfg.store_url) as store:
        media = MediaStore(cfg.data_dir / "media", redactor=build_redactor(cfg))
        bystander = _track(store, media, "cam-a-run-1", scene, None)
        subject = _track(store, media, "cam-a-run-2", scene, "face candidate (test)")
        raised = CandidateRaised(camera_id="cam-a", occurred_at=utcnow(), kind="face", list_entry_id="subject-1",
                                 track_id="cam-a-run-2", score=0.6)  # fmt: skip
        store.events.add_many([raised])
        cases = store.governance.cases
        case = cases.create("case", reason="warrant W-1", legal_hold=False, created_by="sup",
                            audit=AuditEntry(actor="sup", action="case.create"))  # fmt: skip
        for tid in ("cam-a-run-1", "cam-a-run-2"):
            added = AuditEntry(actor="sup", action="case.add_item")
            cases.add_item(case.case_id, item_type="track", item_id=tid, camera_id="cam-a", added_by="sup", audit=added)
        package = build_case_package(store.governance.cases.get(case.case_id), store, media, RedactionRegistry(),
                                     unredacted=False, exported_by="sup")  # fmt: skip
    zf = zipfile.ZipFile(io.BytesIO(package.data))
    assert zf.read(f"media/{bystander}") == (media.root / bystander).read_bytes()  # blurred as it was written
    exported = cv2.imdecode(np.frombuffer(zf.read(f"media/{subject}"), np.uint8), 1)
    assert _sharpness(exported, face) < 0.1 * _sharpness(scene, face)
    rest = (0, 200, 560, 432)
    assert _sharpness(exported, rest) > 0.7 * _sharpness(scene, rest)
