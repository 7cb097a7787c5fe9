"""Plate redaction on the 222 real US street scenes: is any labelled plate still readable, and what
does finding plates cost per frame?

Usage: python bench/plate_redaction.py [--limit N] [--json]

For each scene (``../shared/data/plates/us``, one labelled plate each) an outsider's reader
(the plate detector ``platedet`` with the plate-trained CCT recogniser, five reads per image,
its best effort) reads the source and the image with its plates blurred, JPEG-encoded, as the
default policy stores it (plates found by the character-row search, ``plates.localiser:
morphology``) and as a deployment that chose the plate detector stores it (``plates.localiser:
platedet``: its boxes and the rows), and as the thorough profile stores snapshots and case
exports (the rows and the PP-OCR scene text detector's lines, no AGPL model). A plate counts as
*readable* when a read lies within one edit (a confusable swap counts half) of the labelled text.
Also timed: each plate finder per 768x432 frame (a scene shrunk to it) against one YOLO detection
of that frame in the same process (the ratio carries across machines), and what the thorough
profile adds over the fast one per frame.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from typing import Any

import cv2
import numpy as np

from benchlib import SHARED_DATA, emit_json, machine_info, models_dir, quiet_logs
from vigil.config import VigilConfig
from vigil.governance.plate_regions import build_plate_regions
from vigil.governance.redaction import blur_boxes
from vigil.governance.redactor import FACE_CELLS
from vigil.plates.text import plate_distance
from vigil.workers.plates_stage import build_plate_reader
from vigil.workers.wiring import build_detector

SCENES = SHARED_DATA / "plates" / "us"


def _readable(reader: Any, image: np.ndarray, plate: str) -> bool:
    return any(plate_distance(r.text, plate) <= 1.0 for r in reader.read_scene(image, max_reads=5))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, default=0, help="first N scenes only (0: all)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not SCENES.is_dir():
        sys.exit(f"no plate scenes at {SCENES} (see ../shared/data/README.md)")
    quiet_logs()
    models = models_dir()
    with tempfile.TemporaryDirectory() as tmp:
        base = {"models_dir": models, "data_dir": tmp}
        rows_cfg = VigilConfig(**base)
        det_cfg = VigilConfig(**base, plates={"localiser": "platedet"})
        finders = {
            "rows (default)": build_plate_regions(rows_cfg),
            "platedet+rows": build_plate_regions(det_cfg),
            "thorough (stored)": build_plate_regions(rows_cfg, "thorough"),
        }
        outsider = build_plate_reader(det_cfg.plates, models, localiser="platedet")
        detector = build_detector(rows_cfg)
        labels = sorted(SCENES.glob("*.txt"))
        if args.limit:
            labels = labels[: args.limit]
        source_read = 0
        still: dict[str, list[str]] = {k: [] for k in finders}
        finder_ms: dict[str, list[float]] = {k: [] for k in finders}
        det_ms: list[float] = []
        for n, label in enumerate(labels, 1):
            name, *_box, plate = label.read_text().strip().split("\t")
            image = cv2.imread(str(SCENES / name))
            if image is None:
                continue
            frame = cv2.resize(image, (768, 432), interpolation=cv2.INTER_AREA)
            started = time.perf_counter()
            detector.detect(frame)
            det_ms.append((time.perf_counter() - started) * 1e3)
            for key, finder in finders.items():
                started = time.perf_counter()
                finder(frame)
                finder_ms[key].append((time.perf_counter() - started) * 1e3)
            if not _readable(outsider, image, plate):
                continue  # the outsider cannot read it even in the source: says nothing
            source_read += 1
            for key, finder in finders.items():
                # Plates blurred as the redactor blurs them (faces, which it also blurs, only
                # add blur: left out here, they cost seconds per scene at 1920 px).
                stored = blur_boxes(image, finder(image), max_cells=FACE_CELLS)
                _, jpeg = cv2.imencode(".jpg", stored, [cv2.IMWRITE_JPEG_QUALITY, 90])
                back = cv2.imdecode(jpeg, cv2.IMREAD_COLOR)
                if _readable(outsider, back, plate):
                    still[key].append(name)
            print(f"{n}/{len(labels)} {name}: " + ", ".join(f"{k} {len(v)}" for k, v in still.items()), file=sys.stderr)
    det_med = statistics.median(det_ms)
    added = [t - f for t, f in zip(finder_ms["thorough (stored)"], finder_ms["rows (default)"], strict=True)]
    result: dict[str, Any] = {
        "scenes": len(labels),
        "read_in_source": source_read,
        "still_readable": {k: len(v) for k, v in still.items()},
        "still_readable_files": still,
        "finder_ms_768x432_median": {k: round(statistics.median(v), 1) for k, v in finder_ms.items()},
        "detection_ms_768x432_median": round(det_med, 1),
        "ratio_to_detection": {k: round(statistics.median(v) / det_med, 2) for k, v in finder_ms.items()},
        # What the thorough profile adds to each stored image over the fast one, frame by frame.
        "thorough_added_ms_768x432_median": round(statistics.median(added), 1),
        "thorough_added_ratio_to_detection": round(statistics.median(added) / det_med, 2),
        "machine": machine_info(),
    }
    print(f"scenes {len(labels)}; outsider reads {source_read} labelled plates in the source")
    for key in finders:
        print(
            f"{key:16} still readable after redaction: {len(still[key])}/{source_read}; finder "
            f"{result['finder_ms_768x432_median'][key]} ms per 768x432 frame "
            f"({result['ratio_to_detection'][key]}x one detection, {det_med:.1f} ms)"
        )
    print(
        f"thorough profile adds {result['thorough_added_ms_768x432_median']} ms per stored 768x432 frame "
        f"({result['thorough_added_ratio_to_detection']}x one detection)"
    )
    print(f"CPU: {result['machine']['cpu_model']}; load {result['machine']['load_avg_at_start']}")
    if args.json:
        emit_json(result)


if __name__ == "__main__":
    main()
