"""Event clips on the real pipeline: an enrolled face in a constructed clip over the bundled
street footage (``samples/people.mp4``) raises a candidate, and the candidate keeps a clip of
the seconds around it. The clip is decoded back with PyAV (H.264, Constrained Baseline,
yuv420p, index first, every frame there, the span stored), searched for faces by an outsider's
detectors (none in the copy every role sees; the candidate's face in the supervisor's copy),
and removed by retention with its candidate unless a case on legal hold names it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import av
import pytest
from face_attack import FaceAttack

from vigil.cli.faces_cmd import compose_demo_clip, enrol_subject
from vigil.config import CameraConfig, VigilConfig
from vigil.config.governance import AuthConfig, GovernanceConfig
from vigil.core.accountability import Authorisation
from vigil.core.clock import utcnow
from vigil.core.ids import new_id
from vigil.services import retention
from vigil.store.audit import AuditEntry
from vigil.store.clips import ClipRecord
from vigil.store.facade import Store
from vigil.store.faces import CalibrationRecord
from vigil.workers.analyze import analyze_recording

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
PORTRAIT = REPO / "samples" / "faces" / "astronaut.jpg"


def _frames(path: Path) -> list[object]:
    with av.open(str(path)) as f:
        return [fr.to_ndarray(format="bgr24") for fr in f.decode(video=0)]


def enrol_astronaut(cfg: VigilConfig) -> None:
    """Enrol the public-domain portrait (with its authorisation) and a calibration in force."""
    with Store.open(cfg.store_url) as store:
        auth = Authorisation("WARRANT-42 (test)", "Sam Supervisor", "Olu Operator", utcnow() + timedelta(days=10))
        record = enrol_subject(cfg, store, subject_id="astro", display_name="Eileen Collins", images=[PORTRAIT],
                               provenance=["NASA portrait, public domain"], authorisation=auth)  # fmt: skip
        store.faces.set_calibration(
            CalibrationRecord(
                calibration_id=new_id(), created_at=utcnow(), dataset="deepface (61 images)",
                embedder=record.references[0].embedder, n_images=61, n_no_face=0, n_genuine=140,
                n_impostor=1690, eer=0.0, target_fmr=1e-3, measured_fmr=5.9e-4, threshold=0.403, tar=1.0,
                set_by="Sam Supervisor", supervisor=None, active=True,
            ),
            floor=cfg.faces.threshold_floor,
        )  # fmt: skip


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory, installed_models_dir: Path) -> tuple[VigilConfig, Path]:
    root = tmp_path_factory.mktemp("clips")
    cfg = VigilConfig(
        data_dir=root / "data",
        models_dir=installed_models_dir,
        cameras=(CameraConfig(id="door", name="Front door", url="door.mp4"),),
        governance=GovernanceConfig(auth=AuthConfig(argon2_time_cost=1, argon2_memory_kib=1024)),
    )
    cfg.data_dir.mkdir(parents=True)
    enrol_astronaut(cfg)
    clip = compose_demo_clip(PORTRAIT, REPO / "samples" / "people.mp4", root / "door.mp4", frames=90)
    analyze_recording(clip, cfg, features=frozenset({"faces"}))
    return cfg, cfg.data_dir / "media"


def _the_clip(cfg: VigilConfig) -> tuple[str, ClipRecord]:
    with Store.open(cfg.store_url) as store:
        cands = store.candidates.list(limit=10)
        assert len(cands) == 1, "the enrolled face raises one candidate"
        clips = store.clips.for_subjects([cands[0].candidate_id])
    assert cands[0].candidate_id in clips, "the candidate kept a clip"
    return cands[0].candidate_id, clips[cands[0].candidate_id]


def test_a_candidate_keeps_a_playable_h264_clip(deployment: tuple[VigilConfig, Path]) -> None:
    cfg, media = deployment
    _, clip = _the_clip(cfg)
    path = media / clip.media
    data = path.read_bytes()
    assert data.find(b"moov") < data.find(b"mdat"), "faststart: the index comes before the data"
    with av.open(str(path)) as f:
        stream = f.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert stream.codec_context.profile == "Constrained Baseline"
        assert stream.codec_context.pix_fmt == "yuv420p"
        assert stream.codec_context.width % 2 == 0 and stream.codec_context.height % 2 == 0
        duration_s = float(f.duration or 0) / 1e6
        decoded = sum(1 for _ in f.decode(video=0))
    assert decoded == clip.frames
    # 5 s before (the candidate is raised after the face has been seen a while) and up to 5 s
    # after (or the end of the recording): at the clip's 5 frames/s, more than 5 s in all.
    assert clip.frames >= 5 * 5
    assert 5.0 <= duration_s <= 10.5
    assert abs(duration_s - clip.duration_s) < 0.5
    assert clip.started_at <= clip.subject_at <= clip.ended_at


def _overlaps(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    cx, cy = (a[0] + a[2]) / 2, (a[1] + a[3]) / 2
    return b[0] <= cx <= b[2] and b[1] <= cy <= b[3]


def test_the_clip_every_role_sees_has_the_face_blurred(
    deployment: tuple[VigilConfig, Path], installed_models_dir: Path
) -> None:
    """The attack finds the candidate's face in the supervisor's copy; in the copy every other
    role sees, nothing it finds lies on those faces. (At x3-x4 its YuNet also reads a face into
    the spacesuit's neck ring and into blurred patches, in both copies; those are not faces and
    are reported, not counted.)"""
    cfg, media = deployment
    _, clip = _the_clip(cfg)
    assert clip.media_kept is not None, "a face candidate's clip keeps a supervisor's copy"
    attack = FaceAttack(installed_models_dir / "yunet" / "face_detection_yunet_2023mar_int8bq.onnx")
    blurred, clear = _frames(media / clip.media), _frames(media / clip.media_kept)
    assert len(blurred) == len(clear)
    faces_seen = left = 0
    for i in range(0, len(clear), 3):
        real = [f.box for f in attack.faces(clear[i])]  # type: ignore[arg-type]
        agreed = [b for b in real if sum(_overlaps(b, o) for o in real) >= 2]  # found at two scales or by both
        faces_seen += bool(agreed)
        hits = [f for f in attack.faces(blurred[i]) if any(_overlaps(f.box, b) or _overlaps(b, f.box) for b in agreed)]  # type: ignore[arg-type]
        left += len(hits)
        assert hits == [], f"frame {i}: the face is still there in the redacted clip: {hits}"
    assert faces_seen >= len(range(0, len(clear), 3)) // 2, "the candidate's face is clear in the supervisor's copy"
    assert left == 0


def test_retention_removes_the_clip_with_its_candidate_unless_on_legal_hold(
    deployment: tuple[VigilConfig, Path],
) -> None:
    cfg, media = deployment
    candidate_id, clip = _the_clip(cfg)
    files = [media / clip.media, media / str(clip.media_kept)]
    later = utcnow() + timedelta(days=cfg.governance.retention.candidates_days + 1)
    audit = AuditEntry(actor="test", action="case.create")
    with Store.open(cfg.store_url) as store:
        case = store.governance.cases.create("Incident 2291", reason="test", legal_hold=True, created_by="test",
                                             audit=audit)  # fmt: skip
        store.governance.cases.add_item(case.case_id, item_type="candidate", item_id=candidate_id, camera_id="door",
                                        added_by="test", audit=AuditEntry(actor="test", action="case.add"))  # fmt: skip
        report = retention.run(cfg, store, now=later)
        assert store.clips.for_subjects([candidate_id]), "held: the clip stays"
        assert all(f.is_file() for f in files)
        store.governance.cases.set_hold(case.case_id, legal_hold=False,
                                        audit=AuditEntry(actor="test", action="case.release"))  # fmt: skip
        report = retention.run(cfg, store, now=later)
        assert store.clips.for_subjects([candidate_id]) == {}
        assert not any(f.exists() for f in files), "both copies removed"
        assert store.events.get(clip.clip_id) is None
    assert report.counts["clips"] == 1


def test_a_crowd_alerts_clip_of_real_bystanders_shows_no_face(
    tmp_path: Path, shared_data: Path, installed_models_dir: Path
) -> None:
    """A stage recording with large frontal faces (the write-time redaction suite's Hamilton clip)
    and a zone whose capacity is one: the over-capacity alert keeps a clip of people nobody
    enrolled, and the outsider's detectors find no face in any of its frames, while they find
    faces in the same recording before anything is stored."""
    video = shared_data / "faces" / "knn" / "clip" / "short_hamilton_clip.mp4"
    with av.open(str(video)) as f:
        w, h = f.streams.video[0].width, f.streams.video[0].height
        source = [fr.to_ndarray(format="bgr24") for i, fr in enumerate(f.decode(video=0)) if i % 30 == 0]
    cfg = VigilConfig.model_validate(
        {
            "data_dir": str(tmp_path / "data"),
            "models_dir": str(installed_models_dir),
            "crowd": {"enabled": True, "sample_interval_s": 1, "alerts": {"min_duration_s": 0}},
            "cameras": [
                {"id": "stage", "url": str(video), "analysis_fps": 3,
                 "zones": [{"id": "all", "polygon": [[0, 0], [w, 0], [w, h], [0, h]], "capacity": 1}]},
            ],
        }
    )  # fmt: skip
    cfg.data_dir.mkdir(parents=True)
    analyze_recording(video, cfg, analysis_fps=3, features=frozenset({"crowd"}))
    with Store.open(cfg.store_url) as store:
        alerts = list(store.events.search(type="crowd.alert", limit=10))
        clips = store.clips.for_subjects([a.event_id for a in alerts])
    assert clips, "the over-capacity alert kept a clip"
    attack = FaceAttack(installed_models_dir / "yunet" / "face_detection_yunet_2023mar_int8bq.onnx")
    assert sum(bool(attack.faces(img)) for img in source) >= 3, "the attack finds the faces in the source"  # type: ignore[arg-type]
    for clip in clips.values():
        assert clip.subject_type == "crowd_alert" and clip.media_kept is None
        frames = _frames(cfg.data_dir / "media" / clip.media)
        assert len(frames) == clip.frames >= 10
        found = [f for i, img in enumerate(frames) for f in attack.faces(img, f"frame {i}")]  # type: ignore[arg-type]
        assert found == [], f"faces in the clip: {found[:5]}"
