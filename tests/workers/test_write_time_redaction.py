"""Hole 1: no bystander's face is kept. Real footage of people who are not enrolled is
analysed, then every stored file (snapshots, crops, the annotated video) is searched by an
outsider's face detectors (``face_attack``); not one face may be found. A candidate's track
still keeps what review needs: the probe crop and the person snapshot show the face."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from face_attack import FaceAttack

from vigil.config import VigilConfig
from vigil.core.accountability import Authorisation
from vigil.faces import FacePipeline
from vigil.store.facade import Store
from vigil.store.faces import NewReference
from vigil.workers.analyze import analyze_recording
from vigil.workers.wiring import open_data_dir

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]

HAMILTON = Path("faces/knn/clip/short_hamilton_clip.mp4")
GROUP_PHOTOS = ("faces/deepface/unlabelled/selfie-many-people.jpg", "faces/deepface/unlabelled/couple.jpg")


@pytest.fixture(scope="module")
def attack(installed_models_dir: Path) -> FaceAttack:
    return FaceAttack(installed_models_dir / "yunet" / "face_detection_yunet_2023mar_int8bq.onnx")


def _stills_clip(photos: list[Path], out: Path, seconds_each: float = 2.0, fps: int = 3) -> Path:
    """Group photos of real people (none enrolled) as a still video, 768 px wide."""
    with av.open(str(out), "w") as dst:
        stream = dst.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 768, 576, "yuv420p"
        for photo in photos:
            image = cv2.imread(str(photo))
            assert image is not None, photo
            scale = min(768 / image.shape[1], 576 / image.shape[0])
            resized = cv2.resize(image, (int(image.shape[1] * scale), int(image.shape[0] * scale)))
            canvas = np.zeros((576, 768, 3), np.uint8)
            y, x = (576 - resized.shape[0]) // 2, (768 - resized.shape[1]) // 2
            canvas[y : y + resized.shape[0], x : x + resized.shape[1]] = resized
            frame = av.VideoFrame.from_ndarray(canvas, format="bgr24")
            for _ in range(int(seconds_each * fps)):
                for packet in stream.encode(frame):
                    dst.mux(packet)
        for packet in stream.encode():
            dst.mux(packet)
    return out


@pytest.fixture(scope="module")
def bystanders(
    tmp_path_factory: pytest.TempPathFactory, shared_data: Path, people_clip: Path, installed_models_dir: Path
) -> VigilConfig:
    """Four real recordings of people nobody enrolled, analysed into one data directory."""
    data = tmp_path_factory.mktemp("bystanders")
    cfg = VigilConfig(data_dir=data / "data", models_dir=installed_models_dir)
    stills = _stills_clip([shared_data / p for p in GROUP_PHOTOS], data / "group-photos.mp4")
    runs = [
        (shared_data / HAMILTON, 3.0, True),  # a stage: large, frontal faces
        (stills, 3.0, False),  # group photos: many faces, large and small
        (shared_data / "video" / "opencv" / "vtest.avi", 1.0, False),  # a street from above: faces of 5-15 px
        (people_clip, 1.0, False),  # the bundled CC BY clip
    ]
    for video, fps, annotate in runs:
        out = cfg.data_dir / "annotated" / f"{video.stem}.mp4" if annotate else None
        summary = analyze_recording(video, cfg, out=out, analysis_fps=fps)
        assert summary.frames_analysed > 0
    return cfg


def test_the_attack_finds_the_faces_in_the_source_footage(
    attack: FaceAttack, shared_data: Path, tmp_path: Path
) -> None:
    """The search has teeth: it finds the faces that are there before anything is stored."""
    for photo in GROUP_PHOTOS:
        image = cv2.imread(str(shared_data / photo))
        image = cv2.resize(image, None, fx=768 / image.shape[1], fy=768 / image.shape[1])  # as in the clip
        assert len({f.box for f in attack.faces(image)}) >= 2, photo
    frames = attack.scan_video(shared_data / HAMILTON, shared_data, every=50)
    assert len({f.path for f in frames}) >= 3


def test_no_stored_file_shows_a_face(bystanders: VigilConfig, attack: FaceAttack) -> None:
    data = bystanders.data_dir
    with sqlite3.connect(data / "vigil.db") as db:
        (snapshots,) = db.execute("SELECT count(*) FROM tracks WHERE snapshot IS NOT NULL").fetchone()
        (person,) = db.execute("SELECT count(*) FROM tracks WHERE class_name = 'person'").fetchone()
    assert person >= 20 and snapshots >= 20, (person, snapshots)
    n_files, found = attack.scan_tree(data, video_every=3)
    videos = list((data / "annotated").glob("*.mp4"))
    assert len(videos) == 1 and n_files >= snapshots + len(videos)
    assert found == [], "\n".join(f"{f.path}: {f.detector} {f.box} {f.score:.2f}" for f in found[:20])


def test_redaction_blurs_regions_not_whole_snapshots(bystanders: VigilConfig) -> None:
    """Faces are blurred by region: most of each snapshot keeps its detail (clothes, build)."""
    snapshots = sorted((bystanders.data_dir / "media" / "snapshots").rglob("*.jpg"))
    sharp = 0
    for path in snapshots:
        grey = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        lower = grey[grey.shape[0] // 2 :]
        sharp += float(cv2.Laplacian(lower, cv2.CV_64F).var()) > 20.0
    assert sharp >= 0.8 * len(snapshots), (sharp, len(snapshots))


def test_a_candidates_track_keeps_what_review_needs(
    tmp_path: Path,
    shared_data: Path,
    installed_models_dir: Path,
    face_attack_pipeline: FacePipeline,
    attack: FaceAttack,
) -> None:
    cfg = VigilConfig(data_dir=tmp_path / "data", models_dir=installed_models_dir)
    cfg.data_dir.mkdir(parents=True)
    reference_photo = shared_data / "faces" / "knn" / "clip" / "lin-manuel-miranda.png"
    ref = face_attack_pipeline.reference(reference_photo)
    with Store.open(cfg.store_url) as store:
        store.faces.enrol(
            subject_id="lmm",
            display_name="Lin-Manuel Miranda (test)",
            authorisation=Authorisation("TEST-1 regression test", "Sam Supervisor", "Olu Operator",
                                        datetime.now(UTC) + timedelta(days=7)),
            references=[NewReference(reference_photo.name, ref.image, ref.embedding, "face_recognition examples",
                                     ref.face.verdict.face_px, ref.face.verdict.score, ref.face.box)],
            embedder=face_attack_pipeline.embedder.name,
            media=open_data_dir(cfg),
            max_expiry_days=30,
            cap=10,
        )  # fmt: skip
    analyze_recording(shared_data / HAMILTON, cfg, out=cfg.data_dir / "annotated.mp4", features=frozenset({"faces"}))
    media = cfg.data_dir / "media"
    with Store.open(cfg.store_url) as store:
        candidates = store.candidates.list(kind="face")
        assert candidates and all(c.list_entry_id == "lmm" for c in candidates)
        candidate_tracks = {c.track_id for c in candidates}
        tracks = [t for t in store.tracks.list(limit=1000) if t.snapshot]
    for c in candidates:
        assert c.probe_media is not None
        assert attack.scan_file(media / c.probe_media, media), f"probe {c.probe_media} lost its face"
    kept = [t for t in tracks if t.track_id in candidate_tracks]
    others = [t for t in tracks if t.track_id not in candidate_tracks]
    assert kept and others
    assert any(attack.scan_file(media / t.snapshot, media) for t in kept if t.snapshot)
    for t in others:
        assert t.snapshot is not None
        assert attack.scan_file(media / t.snapshot, media) == [], f"bystander snapshot {t.snapshot} shows a face"
    # The enrolled reference photo keeps the subject's face.
    (reference,) = (media / "faces" / "references").glob("*.jpg")
    assert attack.scan_file(reference, media)


@pytest.fixture(scope="module")
def face_attack_pipeline(installed_models_dir: Path) -> FacePipeline:
    from vigil.config.faces import FacesConfig

    return FacePipeline.load(installed_models_dir / "yunet", installed_models_dir / "sface", FacesConfig())
