"""Where each detector's scores start a track: precision and recall per score threshold.

``tracker.activation_threshold`` (a detection must score at least this to start a track) was
set for YOLOv4-tiny's scores. Another model's scores are on another scale, so each model
declares its own threshold (``DetectorChoice.activation_threshold``). This script measures what
a threshold means for each model, on data that is not one of the end-to-end tests:

* COCO val (``../shared/data/detection/coco128/val2017``, Vigil's six classes): precision and
  recall of the detections scoring >= t (a detection is right when it overlaps an unclaimed
  ground-truth box of its class at IoU >= 0.5, best scores first);
* close-up vehicles (``../shared/data/plates/us``, the openalpr US benchmark photos: a car or
  van filling much of the frame, its plate marked): the share of photos where a vehicle box
  holding the plate's centre scores >= t. ``car12`` (the plates end-to-end test's scene) is
  left out.

The threshold of a model other than the reference (``yolov4-tiny`` int8 at its 0.5) is chosen
to keep the reference's precision: the lowest t on the 0.05 grid whose COCO precision is at
least the reference's at 0.5, so the tracks it starts are as often right as before while it
keeps its own recall. The choice is made by 2-fold cross-validation (even / odd images): the
threshold is chosen on one fold and its precision, recall and close-up recall are reported on
the other, both ways.

Run: ``OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/detector_thresholds.py [--json]``
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray
from rich.table import Table

from benchlib import SHARED_DATA, emit_json, machine_info, models_dir, note, out_console
from detection_accuracy import image_size
from vigil.config.detector import DETECTOR_MODELS, DetectorConfig
from vigil.core.classes import VEHICLE_CLASSES, class_id
from vigil.core.detections import Detections
from vigil.core.geometry import box_iou
from vigil.detect.accuracy import VIGIL_CLASSES, LabelledImage, load_labelled_folder
from vigil.detect.choice import open_detector
from vigil.models.install import require

COCO128_VAL = SHARED_DATA / "detection" / "coco128" / "val2017"
CLOSE_UPS = SHARED_DATA / "plates" / "us"
LEFT_OUT = {"car12"}  # the plates end-to-end test's scene: not used to choose anything
REFERENCE = ("yolov4-tiny", "int8", 0.5)
MODELS = (("yolov4-tiny", "int8"), ("yolox-nano", "fp32"), ("picodet-s-416", "fp32"))
GRID = tuple(round(0.05 * i, 2) for i in range(3, 15))  # 0.15 .. 0.70
SCAN_CONFIDENCE = 0.1
VEHICLE_IDS = frozenset(class_id(name) for name in VEHICLE_CLASSES)


@dataclass(frozen=True, slots=True)
class Scored:
    """Per image: the score of each detection and whether it is right (IoU >= 0.5, greedy)."""

    scores: list[NDArray[np.float32]]
    right: list[NDArray[np.bool_]]
    truths: list[int]


def match(found: Detections, truth: LabelledImage) -> NDArray[np.bool_]:
    """Greedy, best score first, per class: True where a detection claims a ground-truth box."""
    right = np.zeros(len(found), dtype=bool)
    for cls in VIGIL_CLASSES:
        mine = np.flatnonzero(found.class_id == cls)
        gts = truth.xyxy[truth.class_id == cls]
        if mine.size == 0 or gts.shape[0] == 0:
            continue
        mine = mine[np.argsort(-found.confidence[mine], kind="stable")]
        iou = box_iou(found.xyxy[mine], gts)
        taken = np.zeros(gts.shape[0], dtype=bool)
        for row, det in enumerate(mine):
            cand = np.where(taken, -1.0, iou[row])
            best = int(cand.argmax())
            if cand[best] >= 0.5:
                taken[best] = True
                right[det] = True
    return right


def pr_at(scored: Scored, picks: list[int], t: float) -> tuple[float, float]:
    """Precision and recall of the detections scoring >= t over the images ``picks``."""
    kept = sum(int((scored.scores[i] >= t).sum()) for i in picks)
    hits = sum(int(scored.right[i][scored.scores[i] >= t].sum()) for i in picks)
    total = sum(scored.truths[i] for i in picks)
    return (hits / kept if kept else 1.0), (hits / total if total else 0.0)


def close_up_scores(detect: Any, folder: Path) -> dict[str, float]:
    """Per openalpr photo: the best vehicle score among boxes holding the plate's centre (0 if none)."""
    out: dict[str, float] = {}
    for label in sorted(folder.glob("*.txt")):
        if label.stem in LEFT_OUT:
            continue
        fields = label.read_text().strip().split("\t")
        image = cv2.imread(str(folder / fields[0]))
        if image is None:
            continue
        x, y, w, h = (float(v) for v in fields[1:5])
        cx, cy = x + w / 2, y + h / 2
        found: Detections = detect(image)
        holds = (
            (found.xyxy[:, 0] <= cx) & (found.xyxy[:, 2] >= cx) & (found.xyxy[:, 1] <= cy) & (found.xyxy[:, 3] >= cy)
        )
        vehicle = np.isin(found.class_id, list(VEHICLE_IDS)) & holds
        out[label.stem] = float(found.confidence[vehicle].max()) if vehicle.any() else 0.0
    return out


def choose(ref: Scored, cand: Scored, picks: list[int]) -> float:
    """The lowest grid threshold keeping the reference's precision at its own threshold."""
    want, _ = pr_at(ref, picks, REFERENCE[2])
    for t in GRID:
        if pr_at(cand, picks, t)[0] >= want:
            return t
    return GRID[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    images = load_labelled_folder(COCO128_VAL, image_size)
    defaults = DetectorConfig()
    scored: dict[str, Scored] = {}
    close: dict[str, dict[str, float]] = {}
    for model, precision in MODELS:
        if model not in DETECTOR_MODELS:
            continue
        cfg = DetectorConfig(model=model, precision=precision)  # type: ignore[arg-type]
        try:
            path = require(models_dir(), model) / cfg.model_file
        except Exception as exc:  # an optional model that is not installed
            note(f"{model}: skipped ({exc})")
            continue
        detector = open_detector(
            cfg.choice.decoder,
            path,
            input_size=cfg.input_size,
            confidence=SCAN_CONFIDENCE,
            nms_iou=defaults.nms_iou,
            class_ids=VIGIL_CLASSES,
            threads=args.threads,
        )
        note(f"{model} {precision}: {len(images)} COCO images, close-ups in {CLOSE_UPS}")
        found = [detector.detect(cv2.imread(str(im.path))) for im in images]
        scored[model] = Scored(
            scores=[f.confidence.astype(np.float32) for f in found],
            right=[match(f, im) for f, im in zip(found, images, strict=True)],
            truths=[int(np.isin(im.class_id, VIGIL_CLASSES).sum()) for im in images],
        )
        close[model] = close_up_scores(detector.detect, CLOSE_UPS)
    every = list(range(len(images)))
    per_threshold: dict[str, list[dict[str, float]]] = {}
    for model, s in scored.items():
        rows = []
        for t in GRID:
            p, r = pr_at(s, every, t)
            vals = np.asarray(list(close[model].values()))
            rows.append(
                {
                    "t": t,
                    "precision": round(p, 3),
                    "recall": round(r, 3),
                    "close_up": round(float((vals >= t).mean()), 3),
                }
            )
        per_threshold[model] = rows
    table = Table(
        title="COCO val six classes: precision / recall at IoU 0.5; close-up vehicles found (openalpr US, no car12)"
    )
    table.add_column("t", justify="right")
    for model in per_threshold:
        table.add_column(f"{model} P / R / close-up", justify="right")
    for i, t in enumerate(GRID):
        table.add_row(
            f"{t:.2f}",
            *(
                f"{r[i]['precision']:.2f} / {r[i]['recall']:.2f} / {r[i]['close_up']:.2f}"
                for r in per_threshold.values()
            ),
        )
    out_console.print(table)
    folds = [every[0::2], every[1::2]]
    stems = sorted(close[REFERENCE[0]])
    close_folds = [stems[0::2], stems[1::2]]
    cv: dict[str, list[dict[str, float]]] = {}
    ref = scored[REFERENCE[0]]
    for model, s in scored.items():
        if model == REFERENCE[0]:
            continue
        cv[model] = []
        for k in (0, 1):
            t = choose(ref, s, folds[k])
            held = folds[1 - k]
            p, r = pr_at(s, held, t)
            rp, rr = pr_at(ref, held, REFERENCE[2])
            cu = float(np.mean([close[model][n] >= t for n in close_folds[1 - k]]))
            rcu = float(np.mean([close[REFERENCE[0]][n] >= REFERENCE[2] for n in close_folds[1 - k]]))
            cv[model].append(
                {
                    "chosen_on_fold": k,
                    "threshold": t,
                    "held_out_precision": round(p, 3),
                    "held_out_recall": round(r, 3),
                    "held_out_close_up": round(cu, 3),
                    "reference_precision": round(rp, 3),
                    "reference_recall": round(rr, 3),
                    "reference_close_up": round(rcu, 3),
                }
            )
            note(
                f"{model}: chosen on fold {k}: t={t:.2f}; held out: P {p:.3f} R {r:.3f} close-up {cu:.3f} "
                f"(yolov4-tiny at 0.5: P {rp:.3f} R {rr:.3f} close-up {rcu:.3f})"
            )
    if args.json:
        emit_json({"machine": machine_info(), "per_threshold": per_threshold, "cross_validation": cv})


if __name__ == "__main__":
    main()
