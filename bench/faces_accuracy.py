"""Face accuracy on the labelled sets in ../shared/data (golden metrics: tests/golden/faces.json).

    .venv/bin/python bench/faces_accuracy.py            # print the metrics as JSON
    .venv/bin/python bench/faces_accuracy.py --write    # also rewrite tests/golden/faces.json

* deepface/identities (LFW layout): all genuine and impostor pairs → EER, TAR at FMR 1e-2/1e-3.
* knn: open-set watchlist. Every train/<person>/ folder is enrolled (all its images); every
  face found in test/ is searched at the deepface FMR 1e-3 threshold. Expected identities per
  probe come from the file names (``KNN_EXPECTED``); faces of anyone else must not match.
* throughput: detection + alignment + embedding per face, one OpenCV thread (= per core).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import cv2

from vigil.cli.faces_cmd import run_calibration
from vigil.config.faces import FacesConfig
from vigil.faces import FacePipeline, read_image
from vigil.recognise import Gallery, GalleryEntry

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data" / "faces"
GOLDEN = REPO / "tests" / "golden" / "faces.json"
FAR_FUTURE = 4102444800.0  # 2100-01-01: expiry is not what is measured here

KNN_EXPECTED: dict[str, set[str]] = {
    # probe file → the enrolled identities it shows (from the file names; others in it are not enrolled)
    "alex_lacamoire1.jpg": {"alex_lacamoire"},
    "johnsnow_test1.jpg": {"kit_harington"},
    "kit_with_rose.jpg": {"kit_harington", "rose_leslie"},
    "obama1.jpg": {"obama"},
    "obama_and_biden.jpg": {"obama", "biden"},
}


def load_pipeline(models_dir: Path) -> FacePipeline:
    return FacePipeline.load(models_dir / "yunet", models_dir / "sface", FacesConfig(threads=1))


def deepface_metrics(pipe: FacePipeline) -> dict[str, object]:
    result = run_calibration(SHARED / "deepface" / "identities", pipe)
    out = result.to_json_dict()
    out["impostor_pairs_needed_for"] = {k: round(10 / p.target_fmr) for k, p in result.points.items()}
    return out


def knn_metrics(pipe: FacePipeline, threshold: float) -> dict[str, object]:
    from datetime import UTC, datetime

    expires = datetime.fromtimestamp(FAR_FUTURE, UTC)
    entries = []
    for person in sorted((SHARED / "knn" / "train").iterdir()):
        for img in sorted(person.iterdir()):
            ref = pipe.reference(img)
            entries.append(GalleryEntry(person.name, img.name, ref.embedding, expires))
    gallery = Gallery(entries)
    now = datetime.now(UTC)
    hits = false_positives = missed = faces_searched = 0
    per_probe: dict[str, list[str]] = {}
    for probe in sorted((SHARED / "knn" / "test").iterdir()):
        expected = KNN_EXPECTED.get(probe.name, set())
        named: list[str] = []
        for face in pipe.analyse(read_image(probe, 50), "photo"):
            if face.embedding is None:
                continue
            faces_searched += 1
            match = gallery.match(face.embedding, threshold, now)
            if match is not None:
                named.append(match.subject_id)
        per_probe[probe.name] = sorted(named)
        found = expected & set(named)
        hits += len(found)
        false_positives += len(named) - len(found)  # wrong names, and any name given twice
        missed += len(expected - found)
    return {
        "enrolled_subjects": len(gallery.subject_ids),
        "enrolled_images": len(gallery),
        "probe_images": len(per_probe),
        "expected_faces": sum(len(v) for v in KNN_EXPECTED.values()),
        "faces_searched": faces_searched,
        "rank1_hits": hits,
        "false_positives": false_positives,
        "missed": missed,
        "threshold": round(threshold, 6),
        "named": per_probe,
    }


def throughput(pipe: FacePipeline) -> dict[str, float]:
    cv2.setNumThreads(1)
    images = [read_image(p, 50) for p in sorted((SHARED / "knn" / "test").iterdir())]
    faces = 0
    start = time.perf_counter()
    for image in images:
        faces += sum(r.embedding is not None for r in pipe.analyse(image, "photo"))
    photo_ms = (time.perf_counter() - start) * 1000 / max(faces, 1)
    crop = images[0][:240, :240].copy()
    start = time.perf_counter()
    n = 0
    for _ in range(10):
        n += sum(r.embedding is not None for r in pipe.analyse(crop, "region"))
    region_ms = (time.perf_counter() - start) * 1000 / 10
    return {"photo_ms_per_face_1_thread": round(photo_ms, 1), "region_ms_per_crop_1_thread": round(region_ms, 1)}


def compute(models_dir: Path, with_speed: bool = False) -> dict[str, object]:
    pipe = load_pipeline(models_dir)
    deepface = deepface_metrics(pipe)
    threshold = float(deepface["threshold_at_fmr"]["1e-3"])  # type: ignore[index]
    out: dict[str, object] = {"deepface": deepface, "knn": knn_metrics(pipe, threshold)}
    if with_speed:
        out["speed"] = throughput(pipe)
    return out


if __name__ == "__main__":
    models = Path(os.environ.get("VIGIL_MODELS_DIR", REPO / "vigil-data" / "models"))
    metrics = compute(models, with_speed=True)
    print(json.dumps(metrics, indent=2))
    if "--write" in sys.argv:
        golden = {k: v for k, v in metrics.items() if k != "speed"}
        golden["tolerance"] = {"eer": 0.005, "tar": 0.01, "counts": 0}
        golden["notes"] = (
            "1,690 impostor pairs cannot support a 1e-3 FMR on their own (about 10,000 are needed for ten "
            "expected false matches; here 1e-3 rests on 1-2 impostor scores) nor 1e-4 at all; the 1e-3 "
            "threshold is what this data allows, not a measured 1-in-1,000 guarantee."
        )
        GOLDEN.write_text(json.dumps(golden, indent=2) + "\n", encoding="utf-8")
