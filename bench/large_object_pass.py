"""YOLOX-Nano's second look at frames holding a frame-sized object: which span and shrink.

YOLOX-Nano misses vehicles that fill the frame more often than smaller ones: on the openalpr
US close-up photos (``../shared/data/plates/us``, one vehicle each with its plate marked;
``car12``, the plates end-to-end test's scene, is left out) most photos where no vehicle box
holding the plate scores >= 0.5 (``tracker.activation_threshold``) have a box spanning >= 80% of
the frame. This measures whether detecting such frames a second time, shrunk into part of the
input (``YoloxDetector.candidates(image, shrink)``), and merging both passes in one NMS pays.

For every ``span`` (a detection this share of the frame's width or height asks for the pass)
and ``shrink`` (the frame's share of the input on the second pass) on a grid, this measures:

* close-up recall: the share of the openalpr photos where a vehicle box holding the plate's
  centre scores >= 0.5;
* COCO precision and recall at 0.5 (``../shared/data/detection/coco128/val2017``, six classes,
  IoU >= 0.5), so that the pass does not buy close-ups with false boxes elsewhere;
* the share of frames that took the second pass (what it costs: one more forward pass each).

The setting is chosen by 2-fold cross-validation (even / odd images of both sets): the highest
close-up recall on one fold whose COCO precision at 0.5 is no lower than one pass's minus 0.01,
ties to the larger span, then the larger shrink (fewer and gentler second passes); its figures
are reported on the other fold, both ways.

Result (2026-12-06, AMD EPYC 2 cores, load 5-7): one pass finds 93.2% of the close-ups; the best
settings find 94.1% (2 photos more) on all of them, and held out the chosen settings find
exactly as many as one pass on both folds (95.5% / 91.0%), for a second pass on 8-9% of COCO
frames. Not worth it: Vigil's detector makes one pass (docs/detectors.md).

Run: ``OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/large_object_pass.py [--json]``
"""

from __future__ import annotations

import argparse
from typing import Any

import cv2
import numpy as np
from rich.table import Table

from benchlib import SHARED_DATA, emit_json, machine_info, models_dir, note, out_console
from detection_accuracy import image_size
from detector_thresholds import match
from vigil.config.detector import DetectorConfig
from vigil.core.classes import VEHICLE_CLASSES, class_id
from vigil.core.detections import Detections
from vigil.detect.accuracy import VIGIL_CLASSES, load_labelled_folder
from vigil.detect.yolo_decode import Candidates, to_detections
from vigil.detect.yolox import YoloxDetector
from vigil.models.install import require

COCO128_VAL = SHARED_DATA / "detection" / "coco128" / "val2017"
CLOSE_UPS = SHARED_DATA / "plates" / "us"
LEFT_OUT = {"car12"}
ACTIVATION = 0.5
SPANS = (0.6, 0.7, 0.8, 0.9)
SHRINKS = (0.5, 0.6, 0.7, 0.8)
PRECISION_SLACK = 0.01
VEHICLE_IDS = [class_id(name) for name in VEHICLE_CLASSES]

Passes = dict[float, Candidates]  # shrink (1.0 = the first pass) -> candidates


def detections(
    passes: Passes, size: tuple[int, int], span: float | None, shrink: float, nms: float
) -> tuple[Detections, bool]:
    """What the detector returns with this setting (None: one pass), and whether it took a second."""
    w, h = size
    classes = np.asarray(VIGIL_CLASSES, dtype=np.int64)
    first = to_detections(passes[1.0], w, h, nms, classes)
    if span is None or len(first) == 0:
        return first, False
    spans = (first.xyxy[:, 2:] - first.xyxy[:, :2]) / np.array([w, h], dtype=np.float32)
    if not (spans >= span).any():
        return first, False
    a, b = passes[1.0], passes[shrink]
    both = Candidates(
        np.concatenate([a.cxcywh, b.cxcywh]),
        np.concatenate([a.score, b.score]),
        np.concatenate([a.class_id, b.class_id]),
    )
    return to_detections(both, w, h, nms, classes), True


def scan(detector: YoloxDetector, image: Any) -> Passes:
    return {s: detector.candidates(image, s) for s in (1.0, *SHRINKS)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    cfg = DetectorConfig(model="yolox-nano")
    detector = YoloxDetector(require(models_dir(), "yolox-nano") / cfg.model_file, confidence=cfg.confidence, threads=1)
    coco = load_labelled_folder(COCO128_VAL, image_size)
    note(f"yolox-nano: {len(coco)} COCO images, {1 + len(SHRINKS)} passes each")
    coco_passes = []
    for im in coco:
        image = cv2.imread(str(im.path))
        coco_passes.append((scan(detector, image), (image.shape[1], image.shape[0])))
    close: list[tuple[str, Passes, tuple[int, int], tuple[float, float]]] = []
    for label in sorted(CLOSE_UPS.glob("*.txt")):
        if label.stem in LEFT_OUT:
            continue
        fields = label.read_text().strip().split("\t")
        image = cv2.imread(str(CLOSE_UPS / fields[0]))
        if image is None:
            continue
        x, y, w, h = (float(v) for v in fields[1:5])
        close.append((label.stem, scan(detector, image), (image.shape[1], image.shape[0]), (x + w / 2, y + h / 2)))
    note(f"{len(close)} close-up photos scanned")
    settings: list[tuple[float | None, float]] = [(None, 1.0)] + [(sp, sh) for sp in SPANS for sh in SHRINKS]
    # Per setting, per image: (right detections >= 0.5, kept >= 0.5, truths, second pass) and close-up hit.
    coco_rows: dict[tuple[float | None, float], list[tuple[int, int, int, bool]]] = {}
    close_rows: dict[tuple[float | None, float], list[tuple[bool, bool]]] = {}
    for setting in settings:
        rows = []
        for (passes, size), truth in zip(coco_passes, coco, strict=True):
            found, second = detections(passes, size, setting[0], setting[1], cfg.nms_iou)
            right = match(found, truth)
            keep = found.confidence >= ACTIVATION
            rows.append(
                (int(right[keep].sum()), int(keep.sum()), int(np.isin(truth.class_id, VIGIL_CLASSES).sum()), second)
            )
        coco_rows[setting] = rows
        hits = []
        for _stem, passes, size, (cx, cy) in close:
            found, second = detections(passes, size, setting[0], setting[1], cfg.nms_iou)
            x = found.xyxy
            holds = (x[:, 0] <= cx) & (x[:, 2] >= cx) & (x[:, 1] <= cy) & (x[:, 3] >= cy)
            good = holds & np.isin(found.class_id, VEHICLE_IDS) & (found.confidence >= ACTIVATION)
            hits.append((bool(good.any()), second))
        close_rows[setting] = hits

    def figures(setting: tuple[float | None, float], ci: list[int], ui: list[int]) -> dict[str, float]:
        c = [coco_rows[setting][i] for i in ci]
        u = [close_rows[setting][i] for i in ui]
        kept = sum(r[1] for r in c)
        return {
            "close_up_recall": round(float(np.mean([h for h, _ in u])), 3),
            "coco_precision": round(sum(r[0] for r in c) / kept if kept else 1.0, 3),
            "coco_recall": round(sum(r[0] for r in c) / sum(r[2] for r in c), 3),
            "second_pass_coco": round(float(np.mean([r[3] for r in c])), 3),
            "second_pass_close_up": round(float(np.mean([s for _, s in u]))),
        }

    all_c, all_u = list(range(len(coco))), list(range(len(close)))
    table = Table(
        title=f"yolox-nano second pass: {len(close)} openalpr close-ups (car12 out), "
        f"{len(coco)} COCO val images; at score >= {ACTIVATION}"
    )
    for column in ("span", "shrink", "close-up recall", "COCO P", "COCO R", "2nd pass COCO", "2nd pass close-ups"):
        table.add_column(column, justify="right")
    grid = {}
    for setting in settings:
        f = figures(setting, all_c, all_u)
        f["second_pass_close_up"] = round(float(np.mean([s for _, s in close_rows[setting]])), 3)
        grid[str(setting)] = f
        table.add_row(
            "one pass" if setting[0] is None else f"{setting[0]:.1f}",
            "" if setting[0] is None else f"{setting[1]:.1f}",
            f"{f['close_up_recall']:.3f}",
            f"{f['coco_precision']:.3f}",
            f"{f['coco_recall']:.3f}",
            f"{f['second_pass_coco']:.3f}",
            f"{f['second_pass_close_up']:.3f}",
        )
    out_console.print(table)
    coco_folds, close_folds = [all_c[0::2], all_c[1::2]], [all_u[0::2], all_u[1::2]]
    cv = []
    for k in (0, 1):
        base = figures((None, 1.0), coco_folds[k], close_folds[k])
        allowed = [
            s
            for s in settings[1:]
            if figures(s, coco_folds[k], close_folds[k])["coco_precision"] >= base["coco_precision"] - PRECISION_SLACK
        ]
        best = max(
            allowed,
            key=lambda s: (figures(s, coco_folds[k], close_folds[k])["close_up_recall"], s[0], s[1]),
            default=(None, 1.0),
        )
        held = figures(best, coco_folds[1 - k], close_folds[1 - k])
        held_base = figures((None, 1.0), coco_folds[1 - k], close_folds[1 - k])
        cv.append(
            {"chosen_on_fold": k, "span": best[0], "shrink": best[1], "held_out": held, "held_out_one_pass": held_base}
        )
        note(f"chosen on fold {k}: span {best[0]} shrink {best[1]}; held out: {held} (one pass: {held_base})")
    if args.json:
        emit_json({"machine": machine_info(), "grid": grid, "cross_validation": cv})


if __name__ == "__main__":
    main()
