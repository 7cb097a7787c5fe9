"""The faces stage on real footage: a candidate for the enrolled subject, nothing kept of
bystanders (database and data directory scanned), impossible travel across two cameras."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from vigil.cli.faces_cmd import compose_demo_clip, enrol_subject
from vigil.config import CameraConfig, Position, VigilConfig
from vigil.events.faces import FaceSearchSummary
from vigil.faces import FacePipeline
from vigil.store.facade import Store
from vigil.workers.analyze import analyze_recording

from .conftest import PORTRAIT, REPO, authorisation

EMBEDDING_BYTES = 128 * 4


@pytest.fixture(scope="module")
def constructed_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("clips") / "cam-a.mp4"
    return compose_demo_clip(PORTRAIT, REPO / "samples" / "people.mp4", out)


def _enrol(cfg: VigilConfig, store: Store, pipe: FacePipeline) -> None:
    enrol_subject(
        cfg, store, subject_id="astro", display_name="Eileen", images=[PORTRAIT],
        provenance=["NASA, public domain"], authorisation=authorisation(), pipeline=pipe,
    )  # fmt: skip


def _scan_database(store: Store) -> list[str]:
    """Every 128-float vector anywhere in the database, as 'table.column'."""
    found: list[str] = []
    with store.engine.connect() as conn:
        for table in inspect(conn).get_table_names():
            for row in conn.execute(text(f'SELECT * FROM "{table}"')).mappings():
                for column, value in row.items():
                    if isinstance(value, bytes | memoryview) and len(bytes(value)) == EMBEDDING_BYTES:
                        found.append(f"{table}.{column}")
                    elif isinstance(value, str) and value.count(",") >= 127:
                        try:
                            parsed = json.loads(value)
                        except ValueError:
                            continue
                        if _has_vector(parsed):
                            found.append(f"{table}.{column}")
    return found


def _has_vector(value: object) -> bool:
    if isinstance(value, list):
        if len(value) == 128 and all(isinstance(v, float | int) for v in value):
            return True
        return any(_has_vector(v) for v in value)
    if isinstance(value, dict):
        return any(_has_vector(v) for v in value.values())
    return False


@pytest.mark.slow
def test_candidate_for_subject_and_nothing_kept_of_bystanders(
    deployment: VigilConfig, store: Store, face_pipeline: FacePipeline, constructed_clip: Path, shared_data: Path
) -> None:
    _enrol(deployment, store, face_pipeline)
    # Footage of people who are not enrolled (a stage clip), then the constructed clip.
    summary = analyze_recording(
        shared_data / "faces" / "knn" / "clip" / "short_hamilton_clip.mp4", deployment, features=frozenset({"faces"})
    )
    assert summary.frames_analysed > 0
    assert store.candidates.list() == []  # nobody in it is enrolled
    analyze_recording(constructed_clip, deployment, features=frozenset({"faces"}))
    candidates = store.candidates.list(kind="face")
    assert len(candidates) == 1
    c = candidates[0]
    assert c.list_entry_id == "astro" and c.score >= (c.threshold or 1) and c.status == "pending"
    assert c.track_id and c.probe_media and c.reference_media
    summaries = [e for e in store.events.search(type="faces.search_summary") if isinstance(e, FaceSearchSummary)]
    assert sum(s.faces_embedded for s in summaries) > len(candidates)  # bystanders' faces were searched

    # Data directory: only track snapshots, enrolled references and the matched probe.
    media = deployment.data_dir / "media"
    files = sorted(p.relative_to(media).as_posix() for p in media.rglob("*") if p.is_file())
    refs = [f for f in files if f.startswith("faces/references/")]
    probes = [f for f in files if f.startswith("faces/probes/")]
    # The candidate's event clip (issue 20): its blurred copy and the copy with only the
    # candidate's own face clear; no clip of anyone else (nobody else raised anything).
    clip = store.clips.for_subjects([c.candidate_id]).get(c.candidate_id)
    assert clip is not None and clip.media_kept is not None
    others = [f for f in files if not f.startswith(("snapshots/", "faces/references/", "faces/probes/"))]
    assert others == sorted([clip.media, clip.media_kept])
    assert len(refs) == 1 and probes == [c.probe_media]
    outside = [p for p in deployment.data_dir.rglob("*") if p.is_file() and media not in p.parents]
    # Beside the database: the audit signing key and its signed head (no personal data), and the
    # spool's disk reserve, which must be blank room and nothing else.
    kept = [p for p in outside if not p.name.startswith("vigil.db") and p.parent.name != "keys"]
    assert [p.relative_to(deployment.data_dir).as_posix() for p in kept] in ([], ["spool/reserve.bin"]), kept
    for p in kept:
        with p.open("rb") as fh:
            while block := fh.read(1 << 20):
                assert not block.strip(b"\0"), f"{p} holds data"
    # Database: the enrolled embedding is the only 128-float vector stored.
    assert _scan_database(store) == ["face_references.embedding"]


@pytest.mark.slow
def test_impossible_travel_between_cameras(
    deployment: VigilConfig, face_pipeline: FacePipeline, constructed_clip: Path
) -> None:
    london = CameraConfig(id="cam-a", url="a.mp4", position=Position(lat=51.5072, lon=-0.1276))
    paris = CameraConfig(id="cam-b", url="b.mp4", position=Position(lat=48.8566, lon=2.3522))
    first = deployment.model_copy(update={"cameras": (london, paris)})
    second = deployment.model_copy(update={"cameras": (paris, london)})
    deployment.data_dir.mkdir(parents=True, exist_ok=True)
    with Store.open(deployment.store_url) as store:
        _enrol(deployment, store, face_pipeline)
    analyze_recording(constructed_clip, first, features=frozenset({"faces"}))
    clip_b = constructed_clip.with_name("cam-b.mp4")
    clip_b.write_bytes(constructed_clip.read_bytes())
    analyze_recording(clip_b, second, features=frozenset({"faces"}))
    with Store.open(deployment.store_url) as store:
        seen = store.candidates.list(list_entry_id="astro", newest_first=False)
    assert [c.camera_id for c in seen] == ["cam-a", "cam-b"]
    assert seen[0].flags == ()
    assert seen[1].flags == ("impossible_travel",)
    assert seen[1].detail is not None and "cam-a" in seen[1].detail and "km/h" in seen[1].detail
