"""Detector accuracy on COCO val images: AP50 and AP50-95 for Vigil's six classes and for person.

Scores every selectable detector (``detector.model``, each precision it has) on
``../shared/data/detection/coco128/val2017`` (the first 128 COCO val2017 images, never trained
on) the way :mod:`vigil.detect.accuracy` documents: Vigil's own pre-processing, decoder and NMS
(IoU ``detector.nms_iou``), the six classes kept, confidence 0.001 so the whole precision-recall
curve counts. ``--write-golden`` stores the figures in ``tests/golden/detection.json``, which
``tests/detect/test_detection_accuracy.py`` recomputes.

Run: ``OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/detection_accuracy.py [--write-golden] [--json]``
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import cv2
from rich.table import Table

from benchlib import REPO_ROOT, SHARED_DATA, emit_json, machine_info, models_dir, note, out_console
from vigil.config.detector import DETECTOR_MODELS, DetectorConfig
from vigil.detect.accuracy import VIGIL_CLASSES, load_labelled_folder, score_detector
from vigil.detect.choice import open_detector
from vigil.models.install import require

COCO128_VAL = SHARED_DATA / "detection" / "coco128" / "val2017"
GOLDEN = REPO_ROOT / "tests" / "golden" / "detection.json"
SCORING_CONFIDENCE = 0.001
TOLERANCE = 1.0
"""AP points a recomputed figure may differ by (other CPUs' kernels; int8 rounding)."""


def variants() -> list[tuple[str, str]]:
    return [(model, precision) for model, choice in DETECTOR_MODELS.items() for precision in choice.files]


def image_size(path: Path) -> tuple[int, int]:
    image = cv2.imread(str(path))
    if image is None:
        raise SystemExit(f"cannot read {path}")
    return int(image.shape[1]), int(image.shape[0])


def read_image(path: Path) -> Any:
    return cv2.imread(str(path))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--write-golden", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    images = load_labelled_folder(COCO128_VAL, image_size)
    defaults = DetectorConfig()
    results: dict[str, Any] = {}
    for model, precision in variants():
        cfg = DetectorConfig(model=model, precision=precision)  # type: ignore[arg-type]
        path = require(models_dir(), model) / cfg.model_file
        detector = open_detector(
            cfg.choice.decoder,
            path,
            input_size=cfg.input_size,
            confidence=SCORING_CONFIDENCE,
            nms_iou=cfg.nms_iou,
            class_ids=VIGIL_CLASSES,
            threads=args.threads,
        )
        note(f"{model} {precision}: scoring {len(images)} images")
        results[f"{model} {precision}"] = score_detector(detector.detect, images, read_image)
    table = Table(title=f"coco128 val2017 ({len(images)} images), six classes and person")
    for column in ("detector", "AP50", "AP50-95", "person AP50", "person AP50-95"):
        table.add_column(column, justify="right")
    for name, figures in results.items():
        person = figures["classes"]["0"]
        mark = " (default)" if name == f"{defaults.model} {defaults.resolved_precision}" else ""
        table.add_row(
            name + mark,
            f"{figures['AP50']:.1f}",
            f"{figures['AP50_95']:.1f}",
            f"{person['AP50']:.1f}",
            f"{person['AP50_95']:.1f}",
        )
    out_console.print(table)
    golden = {
        "dataset": "../shared/data/detection/coco128/val2017 (first 128 COCO val2017 images)",
        "scoring": "vigil.detect.accuracy: COCO-style 101-point AP, greedy matching, no area ranges; "
        f"classes {list(VIGIL_CLASSES)}; confidence {SCORING_CONFIDENCE}, NMS IoU {defaults.nms_iou}, "
        f"input {defaults.input_size}, at most 100 boxes an image",
        "tolerance": TOLERANCE,
        "detectors": results,
    }
    if args.write_golden:
        GOLDEN.write_text(json.dumps(golden, indent=2) + "\n", encoding="utf-8")
        note(f"wrote {GOLDEN}")
    if args.json:
        emit_json({"machine": machine_info(), **golden})


if __name__ == "__main__":
    main()
