"""Stored snapshots and case exports use the thorough plate finder, checked as an outsider would.

The fast finder (the character-row search, used for the live view and clip frames) leaves the
labelled plate of two real US street scenes (``../shared/data/plates/us``: ``car17``, a plate at
the frame's left edge, and ``car5``) readable by an outsider's reader (the optional plate detector
with the plate-trained recogniser, five reads per image). The stored snapshot and a redacted case
export (a bystander's snapshot as it was written, and a candidate's snapshot kept clear for review
and redacted as it is exported) go through the thorough profile (the rows and the PP-OCR scene text
detector's lines, no AGPL model): the same reader reads neither plate there. The test first shows
the fast finder alone leaks both plates, so it would fail if the stored path used it."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from vigil.config import VigilConfig
from vigil.config.plates import PlatesConfig
from vigil.core.clock import utcnow
from vigil.events import CandidateRaised, TrackEnded
from vigil.events.models import BoundingBox
from vigil.governance.export import build_case_package
from vigil.governance.plate_regions import build_plate_regions
from vigil.governance.redaction import RedactionRegistry, blur_boxes
from vigil.governance.redactor import FACE_CELLS, build_redactor
from vigil.plates.reader import PlateReader
from vigil.plates.text import plate_distance
from vigil.store import Store
from vigil.store.audit import AuditEntry
from vigil.store.media import MediaStore, snapshot_path
from vigil.workers.plates_stage import build_plate_reader

pytestmark = pytest.mark.slow

LEAKED_BY_FAST = ("car17", "car5")  # bench/plate_redaction.py --limit 40: the fast finder's two leaks


@pytest.fixture(scope="module")
def outsider(platedet_models_dir: Path) -> PlateReader:
    return build_plate_reader(PlatesConfig(), platedet_models_dir, localiser="platedet")


def _scene(shared_data: Path, stem: str) -> tuple[np.ndarray, str]:
    name, *_box, plate = (shared_data / "plates" / "us" / f"{stem}.txt").read_text().strip().split("\t")
    image = cv2.imread(str(shared_data / "plates" / "us" / name))
    assert image is not None, name
    return image, plate


def _reads(reader: PlateReader, image: np.ndarray, plate: str) -> list[str]:
    """The outsider's reads of ``image`` within one edit of ``plate`` (a confusable swap: half)."""
    return [r.text for r in reader.read_scene(image, max_reads=5) if plate_distance(r.text, plate) <= 1.0]


def _jpeg(image: np.ndarray) -> np.ndarray:
    _, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
    return np.asarray(cv2.imdecode(data, cv2.IMREAD_COLOR), np.uint8)


def _track(store: Store, media: MediaStore, track_id: str, image: np.ndarray, keep: str | None) -> str:
    now = utcnow()
    ended = TrackEnded(
        camera_id="street", occurred_at=now, track_id=track_id, class_name="car",
        box=BoundingBox(x1=0, y1=0, x2=10, y2=20), confidence=0.9, frame_index=1, first_seen=now, last_seen=now,
        n_observations=3, best_confidence=0.9,
    )  # fmt: skip
    rel = media.save_jpeg(snapshot_path("street", ended.event_id, now), image, keep_faces=keep, camera_id="street")
    store.events.add_many([ended.model_copy(update={"snapshot": rel})])
    return rel


def test_stored_snapshots_and_exports_hide_the_plates_the_fast_finder_leaves(
    tmp_path: Path, installed_models_dir: Path, shared_data: Path, outsider: PlateReader
) -> None:
    cfg = VigilConfig(data_dir=tmp_path / "data", models_dir=installed_models_dir)
    fast = build_plate_regions(cfg)
    scenes = [_scene(shared_data, stem) for stem in LEAKED_BY_FAST]
    for image, plate in scenes:
        assert _reads(outsider, image, plate), f"the outsider cannot read {plate} in the source"
        leaked = _jpeg(blur_boxes(image, fast(image), max_cells=FACE_CELLS))
        assert _reads(outsider, leaked, plate), f"{plate}: the fast finder alone no longer leaks it"
    with Store.open(cfg.store_url) as store:
        media = MediaStore(cfg.data_dir / "media", redactor=build_redactor(cfg))
        cases = store.governance.cases
        case = cases.create("case", reason="warrant W-2", legal_hold=False, created_by="sup",
                            audit=AuditEntry(actor="sup", action="case.create"))  # fmt: skip
        stored: list[tuple[str, str, str]] = []  # bystander's path, clear-kept path, plate
        for i, (image, plate) in enumerate(scenes):
            bystander = _track(store, media, f"street-run-{i}", image, None)
            clear = _track(store, media, f"street-run-{i}-kept", image, "face candidate (test)")
            stored.append((bystander, clear, plate))
            raised = CandidateRaised(camera_id="street", occurred_at=utcnow(), kind="face", list_entry_id="subject-1",
                                     track_id=f"street-run-{i}-kept", score=0.6)  # fmt: skip
            store.events.add_many([raised])
            for tid in (f"street-run-{i}", f"street-run-{i}-kept"):
                added = AuditEntry(actor="sup", action="case.add_item")
                cases.add_item(case.case_id, item_type="track", item_id=tid, camera_id="street", added_by="sup",
                               audit=added)  # fmt: skip
        package = build_case_package(cases.get(case.case_id), store, media, RedactionRegistry(),
                                     unredacted=False, exported_by="sup")  # fmt: skip
    zf = zipfile.ZipFile(io.BytesIO(package.data))
    for bystander, clear, plate in stored:
        on_disk = cv2.imread(str(media.path_for(bystander)))
        assert _reads(outsider, on_disk, plate) == [], f"{plate} readable in the stored snapshot"
        assert zf.read(f"media/{bystander}") == media.path_for(bystander).read_bytes()  # exported as stored
        exported = cv2.imdecode(np.frombuffer(zf.read(f"media/{clear}"), np.uint8), cv2.IMREAD_COLOR)
        assert _reads(outsider, exported, plate) == [], f"{plate} readable in the case export"
